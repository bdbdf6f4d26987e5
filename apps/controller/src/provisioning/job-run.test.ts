import { describe, expect, it } from 'vitest';
import { JobRun, LOG_MAX_BYTES, MASK } from './job-run';

const meta = { id: 'prov_1', nodeId: 'node_1', kind: 'provision' as const, target: 'root@h:22', startedAt: '2026-01-01T00:00:00.000Z', createdBy: 'admin' };

describe('JobRun', () => {
  it('masks every secret, including each line of a private key, before a line is kept or emitted', () => {
    const run = new JobRun(meta);
    const emitted: string[] = [];
    run.on('line', (l) => emitted.push(l.text));
    run.addSecret('hunter2-password');
    run.addSecret('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n');
    run.line('sudo: hunter2-password is wrong');
    run.line('key b3BlbnNzaC1rZXktdjEAAAAA leaked');
    run.setStep('connect', { status: 'failed', message: 'bad hunter2-password' });
    expect(emitted).toEqual([`sudo: ${MASK} is wrong`, `key ${MASK} leaked`]);
    expect(run.snapshot().log).not.toContain('hunter2');
    expect(run.step('connect').message).toBe(`bad ${MASK}`);
    run.finish('failed', 'x hunter2-password', 'now');
    expect(run.error).toBe(`x ${MASK}`);
  });

  it('caps the log, dropping the oldest lines and saying so', () => {
    const run = new JobRun(meta);
    const line = 'y'.repeat(1000);
    for (let i = 0; i < 1000; i++) run.line(`${i} ${line}`);
    const log = run.logText();
    expect(Buffer.byteLength(log)).toBeLessThan(LOG_MAX_BYTES + 200);
    expect(log).toMatch(/^\[… \d+ earlier lines dropped/);
    expect(log).toContain(`999 ${line}`);
    expect(log).not.toContain(`\n0 ${line}`);
    expect(run.linesAfter(995).map((l) => l.seq)).toEqual([996, 997, 998, 999, 1000]);
  });

  it('starts with every step pending', () => {
    const run = new JobRun(meta);
    expect(run.snapshot().steps.every((s) => s.status === 'pending' && s.startedAt === null)).toBe(true);
    expect(run.snapshot().steps[0]!.name).toBe('connect');
  });
});
