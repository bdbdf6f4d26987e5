import { useCallback, useEffect, useRef } from 'react';
import type { ProvisionStep } from '@caddyfleet/protocol';
import { Terminal, type TerminalHandle } from './Terminal';
import { useProvisioningStream, type JobState } from '../hooks/useProvisioningStream';
import { dateTime } from '../lib/format';

const STEP_ICON: Record<ProvisionStep['status'], string> = { pending: '○', running: '◐', succeeded: '✓', warning: '!', failed: '✗', skipped: '–' };

function duration(step: ProvisionStep): string {
  if (!step.startedAt || !step.endedAt) return '';
  const ms = Date.parse(step.endedAt) - Date.parse(step.startedAt);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function StepList({ steps }: { steps: ProvisionStep[] }) {
  return (
    <ol className="steps" data-testid="provision-steps">
      {steps.map((s) => (
        <li key={s.name} className={`step step-${s.status}`} data-step={s.name} data-status={s.status}>
          <span className="step-icon" aria-hidden="true">
            {STEP_ICON[s.status]}
          </span>
          <span className="step-name">{s.name}</span>
          <span className="step-status">{s.status}</span>
          <span className="step-time">{duration(s)}</span>
          {s.message && <span className="step-message">{s.message}</span>}
        </li>
      ))}
    </ol>
  );
}

function Summary({ job }: { job: JobState }) {
  if (job.status === 'running') {
    const current = job.steps.find((s) => s.status === 'running');
    return (
      <p className="alert alert-info" role="status" data-testid="provision-status" data-status="running">
        Provisioning {job.target}… {current ? <>step: <strong>{current.name}</strong></> : null}
      </p>
    );
  }
  if (job.status === 'succeeded') {
    return (
      <p className="alert alert-ok" role="status" data-testid="provision-status" data-status="succeeded">
        Provisioned {job.target}: the server is online. Finished {job.endedAt ? dateTime(job.endedAt) : ''}.
      </p>
    );
  }
  const failed = job.steps.find((s) => s.status === 'failed');
  return (
    <p className="alert alert-error" role="alert" data-testid="provision-status" data-status="failed">
      <strong>Provisioning failed{failed ? ` at step “${failed.name}”` : ''}.</strong> {failed?.message ?? job.error}
    </p>
  );
}

/** Steps, status and the live (or stored) output of a node's provisioning run. `generation` restarts the stream. */
export function ProvisioningPanel({ nodeId, generation = 0, onEnded }: { nodeId: string; generation?: number; onEnded?: (status: JobState['status']) => void }) {
  const term = useRef<TerminalHandle>(null);
  const onLine = useCallback((text: string) => term.current?.writeLine(text), []);
  useEffect(() => term.current?.clear(), [nodeId, generation]);
  const { job, ended, streamError } = useProvisioningStream(nodeId, onLine, generation);
  const endedRef = useRef(onEnded);
  endedRef.current = onEnded;
  useEffect(() => {
    if (ended && job) endedRef.current?.(job.status);
  }, [ended, job]);

  return (
    <div className="provision-panel">
      {job && <Summary job={job} />}
      {streamError && <p className="muted">{streamError}</p>}
      <div className="provision-grid">
        {job && <StepList steps={job.steps} />}
        <Terminal ref={term} label="Provisioning output" />
      </div>
    </div>
  );
}
