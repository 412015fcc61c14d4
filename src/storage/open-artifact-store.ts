import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { type ArtifactStore, LocalArtifactStore } from './artifact-store.js';
import { readMostly } from './artifact-keys.js';
import { CachedArtifactStore } from './cached-artifact-store.js';
import { S3ArtifactStore, parseS3Url } from './s3-artifact-store.js';

/** What opens an artifact store: settings, never a path handed over by another process. */
export type ArtifactStoreSettings = Pick<
  Config,
  'ARTIFACT_STORE' | 'S3_ENDPOINT' | 'AWS_REGION' | 'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY' | 'DATA_DIR' | 'ARTIFACT_CACHE_MB'
>;

export function artifactStoreSettings(config: Config): ArtifactStoreSettings {
  const { ARTIFACT_STORE, S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, DATA_DIR, ARTIFACT_CACHE_MB } = config;
  return { ARTIFACT_STORE, S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, DATA_DIR, ARTIFACT_CACHE_MB };
}

/**
 * The configured store: DATA_DIR/artifacts, or the s3:// bucket. Readers that load the same
 * models and datasets again (workers) ask for `cache`: a remote store then keeps a bounded copy
 * of what they read under DATA_DIR/cache.
 */
export function openArtifactStore(settings: ArtifactStoreSettings, options: { cache?: boolean } = {}): ArtifactStore {
  if (!settings.ARTIFACT_STORE) return new LocalArtifactStore(settings.DATA_DIR);
  const s3 = new S3ArtifactStore(parseS3Url(settings.ARTIFACT_STORE), {
    endpoint: settings.S3_ENDPOINT,
    region: settings.AWS_REGION,
    accessKeyId: settings.AWS_ACCESS_KEY_ID,
    secretAccessKey: settings.AWS_SECRET_ACCESS_KEY,
  });
  if (!options.cache || settings.ARTIFACT_CACHE_MB === 0) return s3;
  return new CachedArtifactStore(s3, join(settings.DATA_DIR, 'cache', 'artifacts'), settings.ARTIFACT_CACHE_MB * 1024 * 1024, readMostly);
}
