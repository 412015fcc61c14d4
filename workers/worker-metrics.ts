import { Gauge, Histogram, Registry, exponentialBuckets } from 'prom-client';
import type { Redis } from 'ioredis';
import { describeDataset, type EpochReport, type StoredJobSpec, storedInlineSamples } from '../src/spec/index.js';
import type { RedisKeys } from '../src/store/keys.js';
import { WORKER_TTL_MS } from '../src/store/worker-registry.js';
import { residentBytes } from '../src/shared/process-memory.js';

/**
 * A worker's own metrics (epochs, its processes' memory). Workers serve no HTTP: each publishes
 * a snapshot to Redis with its heartbeat, and every API process's /metrics sums the live ones.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly epochDuration = new Histogram({
    name: 'descent_epoch_duration_seconds',
    help: 'Duration of one training epoch.',
    buckets: exponentialBuckets(0.005, 4, 10),
    registers: [this.registry],
  });
  private readonly samplesPerSecond = new Histogram({
    name: 'descent_epoch_samples_per_second',
    help: 'Training samples per second of one epoch (jobs whose sample count the spec tells: built-in and inline datasets).',
    buckets: exponentialBuckets(10, 4, 10),
    registers: [this.registry],
  });

  constructor(processes: () => { training: (number | undefined)[]; predict: number | undefined }) {
    new Gauge({
      name: 'descent_worker_process_memory_bytes',
      help: "Resident memory of the workers' training and predict processes.",
      labelNames: ['process'],
      registers: [this.registry],
      collect() {
        const { training, predict } = processes();
        this.set(
          { process: 'training' },
          training.reduce((n: number, pid) => n + (residentBytes(pid) ?? 0), 0),
        );
        this.set({ process: 'predict' }, residentBytes(predict) ?? 0);
      },
    });
  }

  epoch(report: Pick<EpochReport, 'durationMs'>, spec: StoredJobSpec): void {
    const seconds = report.durationMs / 1000;
    this.epochDuration.observe(seconds);
    const { inline, ...rest } = spec.dataset;
    const samples = inline ? storedInlineSamples(spec.dataset) : describeDataset(rest)?.samples;
    if (samples !== undefined && seconds > 0) this.samplesPerSecond.observe((samples * (1 - spec.training.validationSplit)) / seconds);
  }

  /** Publishes this worker's snapshot, kept as long as its heartbeat. */
  async publish(redis: Redis, keys: RedisKeys, workerId: string): Promise<void> {
    await redis.set(keys.workerMetrics(workerId), JSON.stringify(await this.registry.getMetricsAsJSON()), 'PX', WORKER_TTL_MS);
  }
}
