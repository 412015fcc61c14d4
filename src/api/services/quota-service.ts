import type { Config } from '../../config/config.js';
import type { JobStatus } from '../../spec/index.js';
import { QuotaExceededError } from '../../shared/errors.js';
import { z } from 'zod';
import { tenantSchema } from '../../shared/access.js';
import { type Quotas, quotaDefaults, quotasSchema, type TenantStore, USAGE_NAMES, type Usage } from '../../store/tenant-store.js';

export const tenantViewSchema = z
  .object({
    tenant: tenantSchema,
    quotas: quotasSchema,
    usage: z.object({
      activeJobs: z.number().int().describe('Queued and running jobs (a job leaves the count as it completes, fails or is cancelled).'),
      datasetBytes: z.number().int(),
      artifactBytes: z.number().int(),
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
  ) {}

  defaults(): Quotas {
    return quotaDefaults(this.config);
  }

  limits(tenant: string): Promise<Quotas> {
    return this.tenants.limits(tenant, this.defaults());
  }

  /** A tenant's quotas and what it uses of them. */
  async view(tenant: string): Promise<TenantView> {
    const [quotas, usage, activeJobs] = await Promise.all([this.limits(tenant), this.tenants.usage(tenant), this.tenants.activeCount(tenant)]);
    return { tenant, quotas, usage: { ...usage, activeJobs } };
  }

  /** Admits a new job into the tenant's queued-plus-running count, or throws a 429 naming the quota. */
  async admitJob(tenant: string, jobId: string, statusOf: (id: string) => Promise<JobStatus | undefined>): Promise<void> {
    const max = (await this.limits(tenant)).activeJobs;
    const { admitted, active } = await this.tenants.admitJob(tenant, jobId, max, statusOf);
    if (!admitted) throw new QuotaExceededError('activeJobs', active, max, JOB_QUOTA_RETRY_AFTER_S);
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

  /** Refuses a new experiment once the tenant holds its quota of them (`held`: how many it has). */
  async assertExperimentRoom(tenant: string, held: number): Promise<void> {
    const max = (await this.limits(tenant)).experiments;
    if (held >= max) throw new QuotaExceededError('experiments', held, max);
  }

  /** Refuses new trained models once the tenant's artifacts fill its quota. */
  async assertArtifactRoom(tenant: string): Promise<void> {
    const [limits, usage] = await Promise.all([this.limits(tenant), this.tenants.usage(tenant)]);
    if (usage.artifactBytes >= limits.artifactBytes) throw new QuotaExceededError('artifactBytes', usage.artifactBytes, limits.artifactBytes);
  }
}
