import { describe, expect, it } from 'vitest';
import { isPrivateName, suggestedTls } from './tls';

describe('suggestedTls', () => {
  it('suggests plain HTTP for names no public CA issues for', () => {
    for (const d of ['localhost', 'app.localhost', 'old.localhost', 'api.test', '*.dev.test', 'printer.local', 'nas.home.arpa', 'svc.internal', '192.168.1.10', '::1', 'intranet']) {
      expect(isPrivateName(d), d).toBe(true);
    }
    expect(suggestedTls(['app.localhost', 'www.app.localhost'])).toBe('off');
    expect(suggestedTls(['10.0.0.5'])).toBe('off');
  });

  it('keeps automatic HTTPS for public names, and for a mix', () => {
    for (const d of ['example.com', 'app.example.com', '*.example.org', 'testing.io', 'localhost.example.com']) expect(isPrivateName(d), d).toBe(false);
    expect(suggestedTls(['app.example.com'])).toBe('auto');
    expect(suggestedTls(['app.example.com', 'app.localhost'])).toBe('auto');
    expect(suggestedTls([])).toBe('auto');
  });
});
