/**
 * What an error nobody planned for becomes on the wire. Two kinds are not bugs and are told apart from the rest:
 * input no store can hold (a NUL character in text: PostgreSQL refuses it, SQLite would keep it), which is the
 * caller's mistake and answered 400; and the store being unreachable or failing under the request (a dropped
 * connection, a busy or full database), which is nobody's mistake and answered 503 — still refused, but retryable.
 * Everything else is an internal error. None of them ever puts a stack trace or a file path on the wire or in the
 * audit log: `unexpectedDetail` is what may be recorded; the error itself goes to the process log.
 */

/** Input that no store may be given: refused before it reaches one, by the edge or by the store's input guard. */
export class UnacceptableInputError extends Error {
  readonly code = 'ERR_INPUT_UNACCEPTABLE';
  constructor(message: string) {
    super(message);
    this.name = 'UnacceptableInputError';
  }
}

/** PostgreSQL SQLSTATEs and SQLite result codes that mean the store, not the request, failed. */
const PG_UNAVAILABLE = /^(08|53|57P0|58)/; // connection exception, insufficient resources, shutdown, system error
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|NOMEM|PROTOCOL)/;
const NODE_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);
/** node-postgres reports a connection lost mid-query, or a pool that cannot connect, by message only. */
const PG_CLIENT_MESSAGES = [
  'Connection terminated',
  'connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
];

/** The store (or the connection to it) failed under the request; a retry may succeed. */
export function isStoreUnavailable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(code) && PG_UNAVAILABLE.test(code)) return true;
    if (SQLITE_UNAVAILABLE.test(code) || NODE_UNAVAILABLE.has(code)) return true;
  }
  return typeof message === 'string' && PG_CLIENT_MESSAGES.some((m) => message.includes(m));
}

/** PostgreSQL's refusal of text it cannot store (a NUL byte): the input's fault, in case an edge check missed it. */
export function isUnstorableInput(err: unknown): boolean {
  if (err instanceof UnacceptableInputError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return code === '22021' || code === '22P05';
}

/** What may be recorded about an unexpected error: its kind and code, never its message, stack or a path. */
export function unexpectedDetail(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const codeText = typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code) ? ` (${code})` : '';
  if (isUnstorableInput(err)) return `input refused${codeText}`;
  if (isStoreUnavailable(err)) return `store unavailable${codeText}`;
  const name = err instanceof Error && /^[A-Za-z]{1,40}$/.test(err.name) ? err.name : 'error';
  return `internal error: ${name}${codeText}`;
}

/** Seconds a client should wait before retrying a not-ready refusal (starting, stale, the store failing, overloaded). */
export const RETRY_AFTER_SECONDS = 1;

/** Gateway refusals that are not final: a bound that frees up (a share, a session slot) or a state that recovers. */
export const RETRYABLE_GATEWAY_CODES: ReadonlySet<string> = new Set([
  'ERR_NOT_READY',
  'ERR_UPSTREAM_SHARE_EXCEEDED',
  'ERR_UPSTREAM_SATURATED',
  'ERR_MCP_SESSION_LIMIT',
]);
