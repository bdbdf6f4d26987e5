import { describe, expect, it } from 'vitest';
import { renderTable } from './output';
import { collect, collectHostPort, formatHostPort, parseHostPort, parseListen, parseSshTarget } from './parse';

describe('parseHostPort', () => {
  it('parses names, IPv4 and bracketed IPv6', () => {
    expect(parseHostPort('app:3000')).toEqual({ host: 'app', port: 3000 });
    expect(parseHostPort('127.0.0.1:80')).toEqual({ host: '127.0.0.1', port: 80 });
    expect(parseHostPort('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(parseHostPort('[fe80::1%eth0]:80')).toEqual({ host: 'fe80::1%eth0', port: 80 });
  });
  it('leaves host validation to the server but needs a numeric port', () => {
    expect(parseHostPort('bad_host!:80')).toEqual({ host: 'bad_host!', port: 80 });
    expect(parseHostPort('h:70000')).toEqual({ host: 'h', port: 70000 });
    expect(() => parseHostPort('app')).toThrow(/no port/);
    expect(() => parseHostPort('app:http')).toThrow(/port must be a number/);
    expect(() => parseHostPort(':80')).toThrow(/no host/);
    expect(() => parseHostPort('::1:80')).toThrow(/brackets/);
    expect(() => parseHostPort('http://127.0.0.1:9001')).toThrow(/without a scheme, e\.g\. 127\.0\.0\.1:9001 \(got "http:\/\/127\.0\.0\.1:9001"\)$/);
    expect(() => parseHostPort('https://app.internal:8443/')).toThrow(/without a scheme, e\.g\. app\.internal:8443 .*--upstream-https/);
  });
  it('formats IPv6 back in brackets', () => {
    expect(formatHostPort({ host: '::1', port: 80 })).toBe('[::1]:80');
    expect(formatHostPort({ host: 'db', port: 5432 })).toBe('db:5432');
  });
});

describe('parseListen', () => {
  it('takes a port with an optional protocol', () => {
    expect(parseListen('5432')).toEqual({ port: 5432 });
    expect(parseListen('5432/tcp')).toEqual({ port: 5432, protocol: 'tcp' });
    expect(parseListen('53/UDP')).toEqual({ port: 53, protocol: 'udp' });
    expect(() => parseListen('5432/sctp')).toThrow(/PORT\/udp/);
    expect(() => parseListen('db:5432')).toThrow();
  });
});

describe('collect', () => {
  it('accumulates repeated and comma-separated values', () => {
    expect(collect('b.com', collect('a.com', undefined))).toEqual(['a.com', 'b.com']);
    expect(collect('a.com, b.com', undefined)).toEqual(['a.com', 'b.com']);
    expect(collectHostPort('[::1]:1,h:2', undefined)).toEqual([
      { host: '::1', port: 1 },
      { host: 'h', port: 2 },
    ]);
  });
});

describe('renderTable', () => {
  it('aligns columns and does not pad the last one', () => {
    expect(renderTable(['ID', 'NAME'], [['a', 'x'], ['long-id', 'y']])).toBe('ID       NAME\na        x\nlong-id  y\n');
  });
});

describe('parseSshTarget', () => {
  it('reads USER@HOST[:PORT] and bracketed IPv6', () => {
    expect(parseSshTarget('root@10.0.0.2')).toEqual({ user: 'root', host: '10.0.0.2' });
    expect(parseSshTarget('ops@edge.example.com:2222')).toEqual({ user: 'ops', host: 'edge.example.com', port: 2222 });
    expect(parseSshTarget('root@[2001:db8::7]:22')).toEqual({ user: 'root', host: '2001:db8::7', port: 22 });
    expect(parseSshTarget('root@[2001:db8::7]')).toEqual({ user: 'root', host: '2001:db8::7' });
    for (const bad of ['10.0.0.2', '@h', 'root@', 'root@h:x', 'root@2001:db8::7']) expect(() => parseSshTarget(bad)).toThrow();
  });
});
