import type { Config } from '../../config/config.js';
import type { JobStatus } from '../../spec/index.js';
import { QuotaExceededError } from '../../shared/errors.js';
import { z } from 'zod';
import { tenantSchema } from '../../shared/access.js';
import type { ExperimentStore } from '../../store/experiment-store.js';
import { type QuotaUse, type Quotas, quotaDefaults, quotasSchema, type TenantStore, USAGE_NAMES, type Usage } from '../../store/tenant-store.js';

export const tenantViewSchema = z
  .object({
    tenant: tenantSchema,
    quotas: quotasSchema,
    usage: z.object({
      activeJobs: z.number().int().describe('Queued and running jobs (a job leaves the count as it completes, fails or is cancelled).'),
      datasetBytes: z.number().int(),
      artifactBytes: z.number().int(),
      experiments: z.number().int().describe('Experiments the tenant holds, finished ones included (deleting one gives it back).'),
    }),
  })
  .meta({ id: 'Tenant' });
export type TenantView = z.infer<typeof tenantViewSchema>;

/** How long a client over its job quota is told to wait: about one short job. */
export const JOB_QUOTA_RETRY_AFTER_S = 30;

/** Tenants' quotas (configured defaults, admin overrides) and the checks against them. */
export class QuotaService {
  constructor(
    private readonly config: Config,
    readonly tenants: TenantStore,
    private readonly experiments: Pick<ExperimentStore, 'count'>,
  ) {}

  defaults(): Quotas {
    return quotaDefaults(this.config);
  }

  limits(tenant: string): Promise<Quotas> {
    return this.tenants.limits(tenant, this.defaults());
  }

  /** A tenant's quotas and what it uses of them. */
  async view(tenant: string): Promise<TenantView> {
    const [quotas, usage, activeJobs, experiments] = await Promise.all([
      this.limits(tenant),
      this.tenants.usage(tenant),
      this.tenants.activeCount(tenant),
      this.experiments.count(tenant),
    ]);
    return { tenant, quotas, usage: { ...usage, activeJobs, experiments } };
  }

  /**
   * Refuses a new job early (a 429 naming the quota) while the tenant's queued and running jobs
   * fill its quota, before anything is stored; JobStore.create admits it for good, atomically.
   */
  async assertJobRoom(tenant: string, statusOf: (id: string) => Promise<JobStatus | undefined>): Promise<void> {
    const max = (await this.limits(tenant)).activeJobs;
    const { room, active } = await this.tenants.activeBelow(tenant, max, statusOf);
    if (!room) throw this.refusal({ quota: 'activeJobs', used: active, limit: max });
  }

  /** The error for a refusal by a quota: 429 with Retry-After for activeJobs (it frees by itself), 422 for the others. */
  refusal(use: QuotaUse): QuotaExceededError {
    return new QuotaExceededError(use.quota, use.used, use.limit, use.quota === 'activeJobs' ? JOB_QUOTA_RETRY_AFTER_S : undefined);
  }

  /**
   * Bytes of dataset the tenant may still store (the cap of an upload's decompressed size);
   * throws a 422 naming the quota when none are left.
   */
  async datasetRoom(tenant: string): Promise<number> {
    const [limits, usage] = await Promise.all([this.limits(tenant), this.tenants.usage(tenant)]);
    if (usage.datasetBytes >= limits.datasetBytes) throw new QuotaExceededError('datasetBytes', usage.datasetBytes, limits.datasetBytes);
    if (usage.artifactBytes >= limits.artifactBytes) throw new QuotaExceededError('artifactBytes', usage.artifactBytes, limits.artifactBytes);
    return limits.datasetBytes - usage.datasetBytes;
  }

  /** Refuses to store `bytes` more when they would take the tenant past a quota (a 422 naming it, datasetBytes first). */
  async assertStorageRoom(tenant: string, bytes: Partial<Usage>): Promise<void> {
    const [limits, usage] = await Promise.all([this.limits(tenant), this.tenants.usage(tenant)]);
    for (const name of USAGE_NAMES) {
      const after = usage[name] + (bytes[name] ?? 0);
      if (after > usage[name] && after > limits[name]) throw new QuotaExceededError(name, after, limits[name]);
    }
  }

  /** Refuses a new experiment once the tenant holds its quota of them. */
  async assertExperimentRoom(tenant: string): Promise<void> {
    const [max, held] = await Promise.all([this.limits(tenant).then((l) => l.experiments), this.experiments.count(tenant)]);
    if (held >= max) throw new QuotaExceededError('experiments', held, max);
  }

  /** Refuses new trained models once the tenant's artifacts fill its quota. */
  async assertArtifactRoom(tenant: string): Promise<void> {
    const [limits, usage] = await Promise.all([this.limits(tenant), this.tenants.usage(tenant)]);
    if (usage.artifactBytes >= limits.artifactBytes) throw new QuotaExceededError('artifactBytes', usage.artifactBytes, limits.artifactBytes);
  }
}
