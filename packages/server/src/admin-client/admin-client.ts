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
    const res = await fetch(`${this.#base}${PATHS.admin}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new AdminClientError(res.status, 'ERR_BAD_RESPONSE', `unexpected response (${res.status}): ${text.slice(0, 200)}`, []);
    }
    if (!res.ok) {
      const e = json as { code?: string; message?: string; details?: string[] };
      throw new AdminClientError(res.status, e.code ?? 'ERR_UNKNOWN', e.message ?? `HTTP ${res.status}`, e.details ?? []);
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
  delete(path: string): Promise<void> {
    return this.request<void>('DELETE', path);
  }
}
