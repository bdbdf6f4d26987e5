import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Applier, isStartFailure, type ApplierDeps } from './apply';

describe('isStartFailure', () => {
  it("recognises Caddy's start-phase (listener) failures, not validation errors", () => {
    expect(isStartFailure('loading config: loading new config: http app module: start: listening on 127.0.0.1:443: listen tcp 127.0.0.1:443: bind: address already in use')).toBe(true);
    expect(isStartFailure('loading config: loading new config: loading http app module: provision http: server srv_http: setting up route handlers: ...')).toBe(false);
    expect(isStartFailure('json: cannot unmarshal string into Go value')).toBe(false);
  });
});

describe('Applier.ackOf', () => {
  // ackOf only formats; no Caddy is needed for it.
  const applier = new Applier({ log: pino({ level: 'silent' }) } as unknown as ApplierDeps);

  it('keeps errors within the frame limits', () => {
    const ack = applier.ackOf({
      ok: false,
      revision: 4,
      error: 'x'.repeat(10_000),
      routeErrors: [{ routeId: 'r', error: 'y'.repeat(5000) }],
      loaded: true,
      rejected: true,
      served: 0,
    });
    expect(ack.error).toHaveLength(8192);
    expect(ack.error!.endsWith('...')).toBe(true);
    expect(ack.routeErrors[0]!.error).toHaveLength(2048);
    expect(ack).toMatchObject({ type: 'ack', revision: 4, ok: false });
  });

  it('leaves out error when the apply worked', () => {
    expect(applier.ackOf({ ok: true, revision: 1, routeErrors: [], loaded: false, rejected: false, served: 2 })).toEqual({
      type: 'ack',
      revision: 1,
      ok: true,
      routeErrors: [],
    });
  });
});
