/** Provisioning runs in the database: the last runs of each node, with their steps and capped log. */
import { provisionStepSchema, type ProvisionJob } from '@caddyfleet/protocol';
import { z } from 'zod';
import type { Db } from '../db/connect';
import type { ProvisioningJobTable } from '../db/schema';
import type { JobRun } from './job-run';

/** Older runs of a node beyond this many are deleted when a new one starts. */
export const KEEP_RUNS_PER_NODE = 5;

const stepsSchema = z.array(provisionStepSchema);

export function jobToApi(row: ProvisioningJobTable): ProvisionJob {
  const steps = stepsSchema.safeParse(JSON.parse(row.steps));
  return {
    id: row.id,
    nodeId: row.node_id,
    kind: row.kind as ProvisionJob['kind'],
    status: row.status as ProvisionJob['status'],
    steps: steps.success ? steps.data : [],
    log: row.log,
    target: row.target,
    hostKeySha256: row.host_key_sha256,
    error: row.error,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    createdBy: row.created_by,
  };
}

function rowOf(run: JobRun): ProvisioningJobTable {
  const job = run.snapshot();
  return {
    id: job.id,
    node_id: job.nodeId,
    kind: job.kind,
    status: job.status,
    steps: JSON.stringify(job.steps),
    log: job.log,
    target: job.target,
    host_key_sha256: job.hostKeySha256,
    error: job.error,
    started_at: job.startedAt,
    ended_at: job.endedAt,
    created_by: job.createdBy,
  };
}

export class JobStore {
  constructor(private readonly db: Db) {}

  async insert(run: JobRun, trx: Db = this.db): Promise<void> {
    await trx.insertInto('provisioning_jobs').values(rowOf(run)).execute();
    run.dirty = false;
  }

  async save(run: JobRun): Promise<void> {
    if (!run.dirty) return;
    run.dirty = false;
    const { id, ...rest } = rowOf(run);
    await this.db.updateTable('provisioning_jobs').set(rest).where('id', '=', id).execute();
  }

  async latest(nodeId: string): Promise<ProvisionJob | null> {
    const row = await this.db.selectFrom('provisioning_jobs').selectAll().where('node_id', '=', nodeId).orderBy('started_at', 'desc').orderBy('id', 'desc').executeTakeFirst();
    return row ? jobToApi(row) : null;
  }

  /** Keeps the newest KEEP_RUNS_PER_NODE runs of a node. */
  async prune(nodeId: string): Promise<void> {
    const keep = await this.db
      .selectFrom('provisioning_jobs')
      .select('id')
      .where('node_id', '=', nodeId)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(KEEP_RUNS_PER_NODE)
      .execute();
    if (keep.length < KEEP_RUNS_PER_NODE) return;
    await this.db.deleteFrom('provisioning_jobs').where('node_id', '=', nodeId).where('id', 'not in', keep.map((k) => k.id)).execute();
  }

  async deleteForNode(nodeId: string, trx: Db = this.db): Promise<void> {
    await trx.deleteFrom('provisioning_jobs').where('node_id', '=', nodeId).execute();
  }

  /** Runs left `running` by a controller that stopped mid-way can never finish: they failed. */
  async failInterrupted(at: string): Promise<string[]> {
    const rows = await this.db.selectFrom('provisioning_jobs').select(['id', 'node_id']).where('status', '=', 'running').execute();
    if (rows.length === 0) return [];
    await this.db
      .updateTable('provisioning_jobs')
      .set({ status: 'failed', error: 'the controller stopped while this run was in progress; provision again', ended_at: at })
      .where('status', '=', 'running')
      .execute();
    return rows.map((r) => r.node_id);
  }
}
