/**
 * The live state of one provisioning run: its steps and its output, capped in size, with every secret of the job
 * masked before a line is kept or sent anywhere. Listeners (SSE streams) get each line and step change.
 */
import { EventEmitter } from 'node:events';
import { PROVISION_STEPS, type ProvisionJob, type ProvisionJobStatus, type ProvisionStep, type ProvisionStepName } from '@caddyfleet/protocol';

/** The stored and served log is at most this large; the oldest lines are dropped first. */
export const LOG_MAX_BYTES = 512 * 1024;
export const MASK = '********';

export interface LogLine {
  seq: number;
  text: string;
}

export interface JobRunEvents {
  line: [LogLine];
  step: [ProvisionStep];
  done: [{ status: ProvisionJobStatus; error: string | null; endedAt: string }];
}

export type JobMeta = Omit<ProvisionJob, 'steps' | 'log' | 'status' | 'error' | 'endedAt' | 'hostKeySha256'>;

export class JobRun extends EventEmitter<JobRunEvents> {
  status: ProvisionJobStatus = 'running';
  error: string | null = null;
  endedAt: string | null = null;
  hostKeySha256: string | null = null;
  readonly steps: ProvisionStep[] = PROVISION_STEPS.map((name) => ({ name, status: 'pending', startedAt: null, endedAt: null, message: null }));
  private readonly lines: LogLine[] = [];
  private bytes = 0;
  private dropped = 0;
  private nextSeq = 1;
  private readonly secrets: string[] = [];
  /** Set whenever something changed that is not persisted yet. */
  dirty = true;

  constructor(readonly meta: JobMeta) {
    super();
    this.setMaxListeners(0);
  }

  /** Values that must never appear in the log (passwords, key material, the agent key); masked in every line. */
  addSecret(value: string | undefined): void {
    if (!value) return;
    // Multi-line secrets (private keys) are masked line by line: output is split into lines before masking.
    for (const part of value.split(/\r?\n/)) {
      const p = part.trim();
      if (p.length >= 4 && !this.secrets.includes(p)) this.secrets.push(p);
    }
    this.secrets.sort((a, b) => b.length - a.length);
  }

  mask(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join(MASK);
    return out;
  }

  line(text: string): void {
    const entry = { seq: this.nextSeq++, text: this.mask(text) };
    this.lines.push(entry);
    this.bytes += Buffer.byteLength(entry.text) + 1;
    while (this.bytes > LOG_MAX_BYTES && this.lines.length > 1) {
      const old = this.lines.shift()!;
      this.bytes -= Buffer.byteLength(old.text) + 1;
      this.dropped += 1;
    }
    this.dirty = true;
    this.emit('line', entry);
  }

  step(name: ProvisionStepName): ProvisionStep {
    return this.steps.find((s) => s.name === name)!;
  }

  setStep(name: ProvisionStepName, patch: Partial<Omit<ProvisionStep, 'name'>>): void {
    const s = this.step(name);
    Object.assign(s, patch);
    if (patch.message) s.message = this.mask(patch.message);
    this.dirty = true;
    this.emit('step', { ...s });
  }

  finish(status: 'succeeded' | 'failed', error: string | null, at: string): void {
    this.status = status;
    this.error = error === null ? null : this.mask(error);
    this.endedAt = at;
    this.dirty = true;
    this.emit('done', { status, error: this.error, endedAt: at });
  }

  /** Lines after `seq` (all of them for 0), for a stream that (re)connects. */
  linesAfter(seq: number): LogLine[] {
    return this.lines.filter((l) => l.seq > seq);
  }

  logText(): string {
    const head = this.dropped ? [`[… ${this.dropped} earlier lines dropped: the log keeps the last ${LOG_MAX_BYTES / 1024} KiB …]`] : [];
    return [...head, ...this.lines.map((l) => l.text)].join('\n');
  }

  lastLines(n: number): string[] {
    return this.lines.slice(-n).map((l) => l.text);
  }

  snapshot(): ProvisionJob {
    return {
      ...this.meta,
      status: this.status,
      steps: this.steps.map((s) => ({ ...s })),
      log: this.logText(),
      hostKeySha256: this.hostKeySha256,
      error: this.error,
      endedAt: this.endedAt,
    };
  }
}
