import type { Queue } from 'bullmq';
import type { ModelCost, StoredJobSpec } from '../spec/index.js';
import type { JobLifecycle } from '../store/job-lifecycle.js';
import type { JobQuotas } from '../store/job-store.js';
import type { QuotaUse, TenantStore, Usage } from '../store/tenant-store.js';
import { type TrainingJobData, trainingJobOptions } from './queues.js';

export interface EnqueueDeps {
  lifecycle: JobLifecycle;
  trainingQueue: Queue<TrainingJobData>;
  attempts: number;
  /** Fair scheduling: each job is queued at its tenant's next turn (see TenantStore.nextTurn). */
  tenants: TenantStore;
}

/**
 * Records and queues a spec that has passed every check, at its tenant's next turn of the training
 * queue; the record is charged `charge` (its inline data, stored before). The record is written
 * only within the tenant's `quotas` (checked in the same step): otherwise nothing is recorded or
 * queued and the quota it would pass is returned. When queueing fails the job fails
 * (`enqueue_failed`, through the lifecycle) and the queue's error is rethrown.
 */
export async function enqueueTraining(
  d: EnqueueDeps,
  input: {
    id: string;
    tenant: string;
    spec: StoredJobSpec;
    cost?: ModelCost;
    experiment?: { id: string; trial: number };
    requestId?: string;
    charge?: Partial<Usage>;
    quotas: JobQuotas;
  },
): Promise<QuotaUse | undefined> {
  const refused = await d.lifecycle.create({
    id: input.id,
    tenant: input.tenant,
    name: input.spec.name ?? null,
    spec: input.spec,
    ...(input.cost ? { cost: input.cost } : {}),
    ...(input.experiment ? { experiment: input.experiment } : {}),
    ...(input.charge ? { charge: input.charge } : {}),
    quotas: input.quotas,
  });
  if (refused) return refused;
  try {
    await queueTraining(d, input);
  } catch (err) {
    // Best effort: Redis itself may be what failed; the error that reaches the caller is the queue's.
    await d.lifecycle.failToEnqueue(input.id, (err as Error).message).catch(() => undefined);
    throw err;
  }
  return undefined;
}

/** Adds a recorded job to the training queue at its tenant's next turn (BullMQ dedupes the job id). */
export async function queueTraining(
  d: EnqueueDeps,
  input: { id: string; tenant: string; spec: StoredJobSpec; experiment?: { id: string }; requestId?: string },
): Promise<void> {
  const [head] = await d.trainingQueue.getPrioritized(0, 0);
  const priority = await d.tenants.nextTurn(input.tenant, head?.opts.priority ?? 1);
  await d.trainingQueue.add('train', trainingJobData(input), trainingJobOptions(input.id, d.attempts, priority));
}

/** What BullMQ carries for a job. */
export function trainingJobData(input: { id: string; spec: StoredJobSpec; experiment?: { id: string }; requestId?: string }): TrainingJobData {
  return {
    jobId: input.id,
    spec: input.spec,
    ...(input.experiment ? { experimentId: input.experiment.id } : {}),
    ...(input.requestId ? { requestId: input.requestId } : {}),
  };
}
