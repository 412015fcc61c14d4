/** Every Redis key Descent writes, under one prefix so deployments and tests can share a Redis. */
export function redisKeys(prefix: string) {
  return {
    prefix,
    job: (id: string) => `${prefix}:job:${id}`,
    history: (id: string) => `${prefix}:job:${id}:history`,
    events: (id: string) => `${prefix}:job:${id}:events`,
    jobIndex: `${prefix}:jobs`,
    workers: `${prefix}:workers`,
    worker: (id: string) => `${prefix}:worker:${id}`,
    /** A live worker's metrics snapshot (prom-client JSON), expiring with its heartbeat. */
    workerMetrics: (id: string) => `${prefix}:worker:${id}:metrics`,
    control: `${prefix}:control`,
    /** A stream an API process's event hub watches beside the job streams, so adding a job wakes its read. */
    hubWake: (hubId: string) => `${prefix}:event-hub:${hubId}:wake`,
    /** Predict replies for one API process, read once each and deleted (expires if that process is gone). */
    predictReplies: (hubId: string) => `${prefix}:predict-replies:${hubId}`,
    idempotency: (hash: string) => `${prefix}:idempotency:${hash}`,
    /** An uploaded dataset's record (JSON); it exists only once the dataset's artifacts are whole. */
    dataset: (id: string) => `${prefix}:dataset:${id}`,
    /** Uploaded dataset ids scored by creation time. */
    datasetIndex: `${prefix}:datasets`,
    /** An experiment's record (hash): status, spec, plan. */
    experiment: (id: string) => `${prefix}:experiment:${id}`,
    /** Its trials (hash: trial number -> trial definition JSON, job id included). */
    experimentTrials: (id: string) => `${prefix}:experiment:${id}:trials`,
    /** What it learned from its trials' events (JSON): progress, scheduler records and decisions, stream cursors. */
    experimentState: (id: string) => `${prefix}:experiment:${id}:state`,
    experimentEvents: (id: string) => `${prefix}:experiment:${id}:events`,
    /** Held by the process deciding for the experiment (value: its token), so decisions are made one at a time. */
    experimentLock: (id: string) => `${prefix}:experiment:${id}:lock`,
    /** Experiment ids scored by creation time. */
    experimentIndex: `${prefix}:experiments`,
    /** A tenant's experiment ids scored by creation time. */
    tenantExperiments: (tenant: string) => `${prefix}:tenant:${tenant}:experiments`,
    /** Ids of running experiments, which workers reconcile periodically. */
    experimentsActive: `${prefix}:experiments:active`,
    /** An API key's record (hash: tenant, scope, the secret's SHA-256, ...), by its public id. */
    apiKey: (id: string) => `${prefix}:api-key:${id}`,
    /** API key ids scored by creation time. */
    apiKeyIndex: `${prefix}:api-keys`,
    /** A browser session (JSON: key id, CSRF token), by the SHA-256 of its cookie; expires by itself. */
    session: (hash: string) => `${prefix}:session:${hash}`,
    /** A tenant's jobs, the same members as jobIndex. */
    tenantJobs: (tenant: string) => `${prefix}:tenant:${tenant}:jobs`,
    /** A tenant's uploaded dataset ids scored by creation time. */
    tenantDatasets: (tenant: string) => `${prefix}:tenant:${tenant}:datasets`,
    /** Ids of a tenant's queued and running jobs (a job leaves as it ends; older leftovers are pruned when counted). */
    tenantActiveJobs: (tenant: string) => `${prefix}:tenant:${tenant}:active`,
    /** A tenant's storage use in bytes (hash: datasetBytes, artifactBytes). */
    tenantUsage: (tenant: string) => `${prefix}:tenant:${tenant}:usage`,
    /** Quotas an admin set for one tenant (hash; a missing field takes the configured default). */
    tenantQuotas: (tenant: string) => `${prefix}:tenant:${tenant}:quotas`,
    /** The BullMQ priority of a tenant's latest queued job (fair scheduling). */
    tenantTurn: (tenant: string) => `${prefix}:tenant:${tenant}:turn`,
    /** Tenants with quotas set or resources, for the admin's listing. */
    tenants: `${prefix}:tenants`,
    /** @fastify/rate-limit's counters. */
    rateLimit: `${prefix}:rate-limit:`,
    /** BullMQ's own prefix. */
    bull: `${prefix}:bull`,
    /** BullMQ's lock of a training job (its value is the lock token). */
    trainingLock: (id: string) => `${prefix}:bull:${TRAINING_QUEUE}:${id}:lock`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

export const TRAINING_QUEUE = 'training';
export const PREDICT_QUEUE = 'predict';
