import { describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { eventMatters, toDiscovered } from './watcher';

const ID = 'a'.repeat(64);
const container = (Action: string, id = ID) => JSON.stringify({ Type: 'container', Action, Actor: { ID: id, Attributes: { name: 'web' } } });
const network = (Action: string, id = ID) => JSON.stringify({ Type: 'network', Action, Actor: { ID: 'net', Attributes: { container: id } } });

describe('eventMatters', () => {
  const known = new Set([ID]);

  it('always looks again when a container starts or unpauses', () => {
    expect(eventMatters(container('start', 'b'.repeat(64)), new Set())).toBe(true);
    expect(eventMatters(container('unpause', 'b'.repeat(64)), new Set())).toBe(true);
  });

  it('looks again when a served container dies, stops, goes, pauses, is renamed or changes networks', () => {
    for (const action of ['die', 'stop', 'destroy', 'pause', 'rename', 'update']) expect(eventMatters(container(action), known)).toBe(true);
    expect(eventMatters(network('connect'), known)).toBe(true);
    expect(eventMatters(network('disconnect'), known)).toBe(true);
  });

  it('skips what cannot change anything: events of containers it does not serve, kill, create, exec, health', () => {
    expect(eventMatters(container('die', 'b'.repeat(64)), known)).toBe(false);
    expect(eventMatters(network('connect', 'b'.repeat(64)), known)).toBe(false);
    for (const action of ['kill', 'create', 'exec_start: sh', 'health_status: healthy', 'attach']) expect(eventMatters(container(action), known)).toBe(false);
    expect(eventMatters(JSON.stringify({ Type: 'image', Action: 'pull' }), known)).toBe(false);
  });

  it('looks again on a line it cannot read', () => {
    expect(eventMatters('{not json', known)).toBe(true);
  });
});

describe('toDiscovered', () => {
  it('keeps what the entries need from a Docker list entry', () => {
    const info = {
      Id: ID,
      Names: ['/other/link', '/web-1'],
      State: 'running',
      Labels: { caddy: 'a.test' },
      HostConfig: { NetworkMode: 'front' },
      NetworkSettings: { Networks: { front: { IPAddress: '10.200.1.2' }, empty: { IPAddress: '' } } },
      Ports: [{ IP: '127.0.0.3', PrivatePort: 80, PublicPort: 18080, Type: 'tcp' }, { PrivatePort: 81, Type: 'tcp' }],
    } as unknown as Docker.ContainerInfo;
    expect(toDiscovered(info)).toEqual({
      id: ID,
      name: 'web-1',
      state: 'running',
      labels: { caddy: 'a.test' },
      networkMode: 'front',
      networks: { front: '10.200.1.2' },
      ports: [
        { ip: '127.0.0.3', privatePort: 80, publicPort: 18080, type: 'tcp' },
        { ip: '', privatePort: 81, publicPort: null, type: 'tcp' },
      ],
    });
  });
});
