/**
 * The dashboard's one way to the API: every request and every event stream goes through
 * here, so credentials are added in one place. With API keys the key is posted once to
 * /v1/session and never kept by the page: the API answers with an HttpOnly, SameSite=Strict
 * session cookie (which fetch and EventSource send by themselves) and a CSRF token, held in
 * memory here and sent in X-CSRF-Token with every write.
 */
/** @type {string | null} */
let csrfToken = null;

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{error?: {code?: string, message?: string, details?: unknown}} | null} body
   * @param {string | null} [retryAfter] the Retry-After header (seconds) of a 429
   */
  constructor(status, body, retryAfter = null) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? 'http_error';
    this.details = body?.error?.details;
    const seconds = retryAfter === null ? NaN : Number(retryAfter);
    /** When to retry, from Retry-After (null: the API did not say). */
    this.retryAt = Number.isFinite(seconds) ? new Date(Date.now() + seconds * 1000) : null;
    this.retryAfterSeconds = Number.isFinite(seconds) ? seconds : null;
  }
}

/** The window event fired after every write the dashboard makes (refused or not), so views showing usage re-read it. */
export const WRITE_EVENT = 'descent:write';

/**
 * Who this browser is signed in as (null: not signed in, the API asks for a key); picks up the
 * CSRF token of a session cookie that outlived a reload.
 * @returns {Promise<{auth: string, tenant: string, scope: string} | null>}
 */
export async function currentSession() {
  try {
    const session = await request('GET', '/v1/session');
    csrfToken = session.csrfToken;
    return session;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

/**
 * Signs in with an API key (the cookie replaces any earlier session), or out with ''.
 * @param {string} key
 */
export async function signIn(key) {
  if (!key) {
    await request('DELETE', '/v1/session').catch(() => null);
    csrfToken = null;
    return null;
  }
  const session = await request('POST', '/v1/session', { key });
  csrfToken = session.csrfToken;
  return session;
}

/** @param {string} method @param {Record<string, string>} extra */
function headers(method, extra = {}) {
  return csrfToken && method !== 'GET' ? { ...extra, 'x-csrf-token': csrfToken } : extra;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
export async function request(method, path, body) {
  const init = body === undefined ? { method, headers: headers(method) } : { method, headers: headers(method, { 'content-type': 'application/json' }), body: JSON.stringify(body) };
  const res = await fetch(path, init);
  if (method !== 'GET') window.dispatchEvent(new Event(WRITE_EVENT));
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: { code: 'not_json', message: text.slice(0, 200) } };
  }
  if (!res.ok) throw new ApiError(res.status, data, res.headers.get('retry-after'));
  return data;
}

export const api = {
  /** @param {string} path */
  get: (path) => request('GET', path),
  /** @param {string} path @param {unknown} [body] */
  post: (path, body) => request('POST', path, body),
  /** @param {string} path */
  del: (path) => request('DELETE', path),
};

/**
 * Every page of a list endpoint (`{items, next}`), `limit` at a time; `onPage` sees each as it comes.
 * @param {string} path
 * @param {{limit?: number, onPage?: (items: any[]) => void}} [options]
 * @returns {Promise<any[]>}
 */
export async function listAll(path, { limit = 100, onPage } = {}) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api.get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    onPage?.(page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

/**
 * A file from the API saved by the browser (fetched with the session cookie, so it works with keys).
 * @param {string} path @param {string} filename
 */
export async function download(path, filename) {
  const res = await fetch(path, { headers: headers('GET') });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null), res.headers.get('retry-after'));
  const href = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement('a'), { href, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

/**
 * Follows an event stream of the API; `handlers` maps event names to functions of the parsed
 * data. The browser resumes a dropped stream with Last-Event-ID by itself, and after the
 * terminal event the API answers 204, which ends it. Callers get only `close()`, so how the
 * stream is opened (with credentials, when the API requires keys) can change here alone.
 * @param {string} path
 * @param {Record<string, (data: any, event: MessageEvent) => void>} handlers
 * @returns {{close(): void}}
 */
export function stream(path, handlers) {
  const source = new EventSource(path);
  for (const [type, handle] of Object.entries(handlers)) {
    source.addEventListener(type, (e) => handle(JSON.parse(/** @type {MessageEvent} */ (e).data), /** @type {MessageEvent} */ (e)));
  }
  return { close: () => source.close() };
}
