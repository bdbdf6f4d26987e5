/**
 * Polls a URL from a worker thread, so the measured latency is the server's and not this process's event loop:
 * when the controller runs in the bench process and stalls it, the poller keeps sending and sees the stall.
 */
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const samples = [];
let stop = false;
parentPort.on('message', () => { stop = true; });
(async () => {
  const deadline = Date.now() + workerData.maxMs;
  while (!stop && Date.now() < deadline && samples.length < 200000) {
    const t0 = performance.now();
    const at = performance.timeOrigin + t0;
    let ok = false;
    try {
      const res = await fetch(workerData.url, { signal: AbortSignal.timeout(60000) });
      await res.arrayBuffer();
      ok = res.ok;
    } catch {}
    samples.push([at, performance.now() - t0, ok ? 1 : 0]);
    await new Promise((r) => setTimeout(r, workerData.intervalMs));
  }
  parentPort.postMessage(samples);
})();
`;

export interface PollSample {
  /** Wall-clock ms (epoch) when the request was sent. */
  at: number;
  ms: number;
  ok: boolean;
}

export class HealthzPoller {
  private readonly worker: Worker;
  private readonly result: Promise<PollSample[]>;

  constructor(url: string, intervalMs = 5, maxMs = 120_000) {
    this.worker = new Worker(WORKER, { eval: true, workerData: { url, intervalMs, maxMs } });
    this.result = new Promise((resolve, reject) => {
      this.worker.once('message', (rows: [number, number, number][]) => resolve(rows.map(([at, ms, ok]) => ({ at, ms, ok: ok === 1 }))));
      this.worker.once('error', reject);
    });
  }

  async stop(): Promise<PollSample[]> {
    this.worker.postMessage('stop');
    const samples = await this.result;
    await this.worker.terminate();
    return samples;
  }
}
