import { describe, it, expect } from 'vitest';
import { describeEndpoint, parseAdminEndpoint } from './admin-endpoint';

describe('parseAdminEndpoint', () => {
  it.each([
    ['http://127.0.0.1:2019', { host: '127.0.0.1', port: 2019 }],
    ['http://localhost:2019/', { host: 'localhost', port: 2019 }],
    ['http://[::1]:2019', { host: '::1', port: 2019 }],
    ['127.0.0.1:2019', { host: '127.0.0.1', port: 2019 }],
    ['tcp/127.0.0.1:2019', { host: '127.0.0.1', port: 2019 }],
    [':2019', { host: '127.0.0.1', port: 2019 }],
    ['0.0.0.0:2019', { host: '127.0.0.1', port: 2019 }],
    ['[::1]:2019', { host: '::1', port: 2019 }],
    ['unix//run/caddy/admin.sock', { socketPath: '/run/caddy/admin.sock' }],
    ['unix:/run/caddy/admin.sock', { socketPath: '/run/caddy/admin.sock' }],
    ['unix:///run/caddy/admin.sock', { socketPath: '/run/caddy/admin.sock' }],
  ])('parses %s', (input, expected) => {
    expect(parseAdminEndpoint(input)).toEqual(expected);
  });

  it.each(['https://127.0.0.1:2019', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:99999', 'localhost:abc'])('rejects %s', (input) => {
    expect(() => parseAdminEndpoint(input)).toThrow();
  });

  it('describes endpoints for error messages', () => {
    expect(describeEndpoint({ socketPath: '/a.sock' })).toBe('unix:/a.sock');
    expect(describeEndpoint({ host: '::1', port: 2019 })).toBe('http://[::1]:2019');
  });
});
