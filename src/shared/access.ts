import { z } from 'zod';

/**
 * Who may do what: an API key belongs to one tenant and has one scope. Scopes are ordered:
 * `write` includes `read`, `admin` includes both and sees every tenant.
 */
export const SCOPES = ['read', 'write', 'admin'] as const;
export const scopeSchema = z.enum(SCOPES).describe('read: GET routes; write: also submit, cancel, upload, delete; admin: also keys and quotas, every tenant.');
export type Scope = z.infer<typeof scopeSchema>;

export const scopeIncludes = (held: Scope, needed: Scope): boolean => SCOPES.indexOf(held) >= SCOPES.indexOf(needed);

export const tenantSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a tenant is 1-63 lowercase letters, digits, _ or -, starting with a letter or digit')
  .describe('The tenant (team, project) a key acts for; everything it creates belongs to it.');

/** The tenant of everything when AUTH is off, and of records older than tenants. */
export const DEFAULT_TENANT = 'default';

/** The caller of a request: the key's tenant and scope (AUTH=off: the default tenant as admin). */
export interface Principal {
  tenant: string;
  scope: Scope;
  /** The API key's public id; null when AUTH is off. */
  keyId: string | null;
  /** How the key came: the Authorization header, or a browser session cookie. */
  via: 'bearer' | 'session' | 'none';
}

/** The tenant whose resources a principal sees: undefined = every tenant (admin). */
export const visibleTenant = (p: Principal): string | undefined => (p.scope === 'admin' ? undefined : p.tenant);
