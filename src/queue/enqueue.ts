import type { Queue } from 'bullmq';
import type { ModelCost, ResolvedJobSpec } from '../spec/index.js';
import type { JobLifecycle } from '../store/job-lifecycle.js';
import { type TrainingJobData, trainingJobOptions } from './queues.js';

export interface EnqueueDeps {
  lifecycle: JobLifecycle;
  trainingQueue: Queue<TrainingJobData>;
  attempts: number;
}

/**
 * Records and queues a spec that has passed every check. When queueing fails the job fails
 * (`enqueue_failed`, through the lifecycle) and the queue's error is rethrown.
 */
export async function enqueueTraining(
  d: EnqueueDeps,
  input: { id: string; spec: ResolvedJobSpec; cost?: ModelCost; experiment?: { id: string; trial: number }; requestId?: string },
): Promise<void> {
  await d.lifecycle.create({ id: input.id, name: input.spec.name ?? null, spec: input.spec, ...(input.cost ? { cost: input.cost } : {}), ...(input.experiment ? { experiment: input.experiment } : {}) });
  try {
    await d.trainingQueue.add('train', trainingJobData(input), trainingJobOptions(input.id, d.attempts));
  } catch (err) {
    // Best effort: Redis itself may be what failed; the error that reaches the caller is the queue's.
    await d.lifecycle.failToEnqueue(input.id, (err as Error).message).catch(() => undefined);
    throw err;
  }
}

/** What BullMQ carries for a job. */
export function trainingJobData(input: { id: string; spec: ResolvedJobSpec; experiment?: { id: string }; requestId?: string }): TrainingJobData {
  return {
    jobId: input.id,
    spec: input.spec,
    ...(input.experiment ? { experimentId: input.experiment.id } : {}),
    ...(input.requestId ? { requestId: input.requestId } : {}),
  };
}
