/** A small client of the admin API, used by the CLI and the dev demo: JSON in, JSON out, errors with their code. */
import { PATHS } from '@writ/protocol';

export class AdminClientError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: string[];
  constructor(status: number, code: string, message: string, details: string[]) {
    super(message);
    this.name = 'AdminClientError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export class AdminClient {
  readonly #base: string;
  readonly #token: string;
  constructor(baseUrl: string, token: string) {
    this.#base = baseUrl.replace(/\/+$/, '');
    this.#token = token;
  }

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.#base}${PATHS.admin}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      // fetch's own message is just "fetch failed"; an operator needs the address tried and the network's reason.
      throw new AdminClientError(
        0,
        'ERR_ADMIN_CLIENT_UNREACHABLE',
        `cannot reach Writ at ${this.#base} (${networkCause(err)}) — is it running? Set WRIT_URL to its address`,
        [],
      );
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new AdminClientError(
        res.status,
        'ERR_ADMIN_CLIENT_BAD_RESPONSE',
        `unexpected response (${res.status}): ${text.slice(0, 200)}`,
        [],
      );
    }
    if (!res.ok) {
      const e = json as { code?: string; message?: string; details?: string[] };
      throw new AdminClientError(res.status, e.code ?? 'ERR_ADMIN_CLIENT_BAD_RESPONSE', e.message ?? `HTTP ${res.status}`, e.details ?? []);
    }
    return json as T;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  put<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  patch<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  delete(path: string): Promise<void> {
    return this.request<void>('DELETE', path);
  }
}

/** `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:7999` from the error fetch wraps in `cause`. */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause ?? err;
  const c = cause as { code?: unknown; message?: unknown; errors?: unknown } | null;
  const code = typeof c?.code === 'string' ? c.code : undefined;
  let message = typeof c?.message === 'string' ? c.message : '';
  // A host with several addresses (localhost: ::1 and 127.0.0.1) fails with an AggregateError whose own message is
  // empty; the first attempt's message says what happened.
  if (message === '' && Array.isArray(c?.errors)) {
    const first = c.errors[0] as { message?: unknown } | undefined;
    if (typeof first?.message === 'string') message = first.message;
  }
  if (code !== undefined && message !== '') return `${code}: ${message}`;
  return code ?? (message !== '' ? message : String(err));
}
