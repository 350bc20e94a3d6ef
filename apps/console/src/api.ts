/**
 * The console's only way to Writ: the admin API, same origin, with the session cookie (sent by the browser, never
 * readable here) and, on every request that is not a GET, the session's CSRF token. Requests the console makes by
 * itself (live refreshes) say so, so they do not keep an idle session alive.
 */

export interface Session {
  subject: string;
  kind: 'person' | 'admin-token';
  name: string;
  role: 'admin' | 'read-only';
  csrf: string;
  expires_at: number;
  idle_expires_at: number;
  idle_minutes: number;
}

/** An admin API error as its body states it: a stable code, a message, and details (policy errors, fields). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: string[];
  constructor(status: number, code: string, message: string, details: string[]) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let csrf = '';
const signedOutListeners = new Set<() => void>();

export function onSignedOut(f: () => void): () => void {
  signedOutListeners.add(f);
  return () => signedOutListeners.delete(f);
}

function signedOut(): void {
  csrf = '';
  for (const f of signedOutListeners) f();
}

async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => ({}))) as { code?: unknown; message?: unknown; details?: unknown };
  const details = Array.isArray(body.details) ? body.details.filter((d): d is string => typeof d === 'string') : [];
  return new ApiError(
    res.status,
    typeof body.code === 'string' ? body.code : `HTTP_${res.status}`,
    typeof body.message === 'string' ? body.message : res.statusText,
    details,
  );
}

/** Who is signed in (and the CSRF token for their changes), or undefined when no one is. */
export async function loadSession(): Promise<Session | undefined> {
  const res = await fetch('/console/session', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) return undefined;
  if (!res.ok) throw await errorOf(res);
  const s = (await res.json()) as Session;
  csrf = s.csrf;
  return s;
}

export async function signOut(): Promise<void> {
  await fetch('/console/logout', { method: 'POST', credentials: 'same-origin', headers: { 'x-writ-csrf': csrf } });
  signedOut();
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** `path` is under `/admin/v1`. */
export async function api<T>(method: Method, path: string, body?: unknown, o: { background?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-writ-csrf'] = csrf;
  if (o.background === true) headers['x-writ-background'] = '1';
  const res = await fetch(`/admin/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 401) {
    signedOut();
    throw await errorOf(res);
  }
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A query string from the fields that are set. */
export function query(fields: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}
