import { describe, expect, it } from 'vitest';
import { initialState, validate, withDomains } from './routeForm';

describe('route form', () => {
  it('a new route follows its domains for TLS until the user picks a mode', () => {
    let s = initialState('redirect', null, '');
    expect(s.tls).toBe('auto');
    s = withDomains(s, 'old.localhost', false);
    expect(s.tls).toBe('off');
    s = withDomains(s, 'old.localhost\nold.example.com', false);
    expect(s.tls).toBe('auto');
    s = withDomains({ ...s, tls: 'internal' }, 'other.test', true);
    expect(s.tls, 'a chosen mode stays').toBe('internal');
  });

  it('says "enter a port" for every bad port, never the schema library\'s wording', () => {
    for (const port of ['70000', '0', '', 'abc', '1.5']) {
      const s = { ...initialState('proxy', null, ''), domainsText: 'a.example.com', upstreams: [{ key: 1, host: '127.0.0.1', port }] };
      const result = validate('proxy', s);
      expect('errors' in result && result.errors['upstreams.0.port'], port).toBe('enter a port (1–65535)');
    }
    const stream = { ...initialState('stream', null, ''), listenPort: '65536', upstreams: [{ key: 1, host: '127.0.0.1', port: '5432' }] };
    const r = validate('stream', stream);
    expect('errors' in r && r.errors['listen.port']).toBe('enter a port (1–65535)');
  });
});
