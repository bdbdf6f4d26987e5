import { describe, it, expect } from 'vitest';
import { missingModule, requiredModules } from './modules';

describe('requiredModules', () => {
  it('names the layer4 modules a stream needs, and the TLS matcher only with server names', () => {
    expect(requiredModules({ kind: 'stream' })).toEqual(['layer4', 'layer4.handlers.proxy']);
    expect(requiredModules({ kind: 'stream', sni: [] })).toEqual(['layer4', 'layer4.handlers.proxy']);
    expect(requiredModules({ kind: 'stream', sni: ['a.test'] })).toEqual(['layer4', 'layer4.handlers.proxy', 'layer4.matchers.tls', 'tls.handshake_match.sni']);
    expect(requiredModules({ kind: 'stream', upstreams: [1, 2] })).toEqual(['layer4', 'layer4.handlers.proxy', 'layer4.proxy.selection_policies.round_robin']);
  });

  it('names the standard HTTP handlers of the other kinds', () => {
    expect(requiredModules({ kind: 'proxy' })).toEqual(['http.handlers.reverse_proxy']);
    expect(requiredModules({ kind: 'redirect' })).toEqual(['http.handlers.static_response']);
    expect(requiredModules({ kind: 'dead' })).toEqual(['http.handlers.static_response']);
  });
});

describe('missingModule', () => {
  it('returns the first missing module, null when all are there or the list is unknown', () => {
    expect(missingModule(['layer4', 'layer4.handlers.proxy'], ['http', 'layer4.handlers.proxy'])).toBe('layer4');
    expect(missingModule(['layer4'], ['layer4', 'http'])).toBeNull();
    expect(missingModule(['layer4'], null)).toBeNull();
  });
});
