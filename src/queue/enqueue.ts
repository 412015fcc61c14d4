import type { Queue } from 'bullmq';
import type { ModelCost, ResolvedJobSpec } from '../spec/index.js';
import type { JobStore } from '../store/job-store.js';
import { type TrainingJobData, trainingJobOptions } from './queues.js';

export interface EnqueueDeps {
  store: JobStore;
  trainingQueue: Queue<TrainingJobData>;
  attempts: number;
}

/**
 * Records and queues a spec that has passed every check. When queueing fails the record is
 * marked failed (`enqueue_failed`) and the error rethrown.
 */
export async function enqueueTraining(
  d: EnqueueDeps,
  input: { id: string; spec: ResolvedJobSpec; cost?: ModelCost; experiment?: { id: string; trial: number } },
): Promise<void> {
  await d.store.create({ id: input.id, name: input.spec.name ?? null, spec: input.spec, createdAt: new Date(), ...(input.cost ? { cost: input.cost } : {}), ...(input.experiment ? { experiment: input.experiment } : {}) });
  try {
    await d.trainingQueue.add('train', trainingJobData(input), trainingJobOptions(input.id, d.attempts));
  } catch (err) {
    const error = JSON.stringify({ code: 'enqueue_failed', message: (err as Error).message });
    await d.store.transition(input.id, ['queued'], 'failed', { finishedAt: new Date().toISOString(), error }, []).catch(() => {});
    throw err;
  }
}

/** What BullMQ carries for a job. */
export function trainingJobData(input: { id: string; spec: ResolvedJobSpec; experiment?: { id: string } }): TrainingJobData {
  return { jobId: input.id, spec: input.spec, ...(input.experiment ? { experimentId: input.experiment.id } : {}) };
}
