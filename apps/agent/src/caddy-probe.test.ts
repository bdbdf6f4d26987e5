import { describe, it, expect } from 'vitest';
import { parseModuleList } from './caddy-probe';

describe('parseModuleList', () => {
  it('keeps the module ids of `caddy list-modules` and drops its summary lines', () => {
    const output = 'admin.api.load\nhttp.handlers.reverse_proxy\nlayer4\n\n  Standard modules: 2\n\nlayer4.handlers.proxy\nlayer4\n\n  Non-standard modules: 2\n\n  Unknown modules: 0\n';
    expect(parseModuleList(output)).toEqual(['admin.api.load', 'http.handlers.reverse_proxy', 'layer4', 'layer4.handlers.proxy']);
  });
});
