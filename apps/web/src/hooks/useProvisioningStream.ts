/**
 * Follows `GET /nodes/:id/provisioning/stream`: the run's state (`job`, `step`, `done` events) as React state,
 * each output line handed to `onLine`. The EventSource is closed on `done`, so the browser does not replay a
 * finished run in a loop; a dropped stream resumes after the last line (Last-Event-ID).
 */
import { useEffect, useRef, useState } from 'react';
import type { ProvisionJob, ProvisionStep } from '@caddyfleet/protocol';
import { API_PREFIX } from '../api/client';

export type JobState = Omit<ProvisionJob, 'log'>;

export function useProvisioningStream(nodeId: string | null, onLine: (text: string) => void, generation = 0) {
  const [job, setJob] = useState<JobState | null>(null);
  const [ended, setEnded] = useState(false);
  const [streamError, setStreamError] = useState<string | null>(null);
  const lineRef = useRef(onLine);
  lineRef.current = onLine;

  useEffect(() => {
    if (!nodeId) return;
    setJob(null);
    setEnded(false);
    setStreamError(null);
    const es = new EventSource(`${API_PREFIX}/nodes/${encodeURIComponent(nodeId)}/provisioning/stream`);
    const parse = (ev: Event) => JSON.parse((ev as MessageEvent<string>).data) as unknown;
    es.addEventListener('job', (ev) => setJob(parse(ev) as JobState));
    es.addEventListener('line', (ev) => lineRef.current((parse(ev) as { text: string }).text));
    es.addEventListener('step', (ev) => {
      const step = parse(ev) as ProvisionStep;
      setJob((j) => (j ? { ...j, steps: j.steps.map((s) => (s.name === step.name ? step : s)) } : j));
    });
    es.addEventListener('done', (ev) => {
      const d = parse(ev) as { status: ProvisionJob['status']; error: string | null; endedAt: string | null };
      setJob((j) => (j ? { ...j, status: d.status, error: d.error, endedAt: d.endedAt } : j));
      setEnded(true);
      es.close();
    });
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) setStreamError('The live output stream closed; reload to see the rest.');
    };
    return () => es.close();
  }, [nodeId, generation]);

  return { job, ended, streamError };
}
