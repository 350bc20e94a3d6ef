/**
 * Refusals of callers nobody has authenticated — no token, a bad token, an unknown resource, a malformed token
 * request, a wrong admin token — cost an attacker nothing to send, so recorded one by one they would let anyone grow
 * the audit log at request rate and push the writer's backlog past its bound (after which every gateway refuses).
 * They are recorded per window instead: the first refusal of each (type, reason, source address) in a window as it
 * happens, and at the window's end one record with how many more there were. Everything about an authenticated
 * caller (any event that names an agent, a user, a task or an actor chain) and every allow passes through untouched.
 * A spray of addresses is bounded too: past `maxKeys` keys in a window, further sources share one key, `*`.
 */
import type { AuditRecord } from './audit-port.js';
import type { AuditWriter } from './audit-writer.js';

export interface AnonymousDenialOptions {
  windowMs: number;
  now: () => number;
  maxKeys?: number;
}

interface Pending {
  first: AuditRecord;
  source: string;
  more: number;
  sameAction: boolean;
}

function isAnonymousDenial(e: AuditRecord): boolean {
  return (
    e.decision === 'deny' && e.agent_id === undefined && e.user_id === undefined && e.task_id === undefined && e.actor_chain === undefined
  );
}

/** `inner` with anonymous denials recorded per window; `flush` and `close` write the current window's counts first. */
export function aggregateAnonymousDenials(inner: AuditWriter, opts: AnonymousDenialOptions): AuditWriter {
  const maxKeys = opts.maxKeys ?? 10_000;
  let windowStart = opts.now();
  const pending = new Map<string, Pending>();

  const closeWindow = (): void => {
    const now = opts.now();
    for (const p of pending.values()) {
      if (p.more === 0) continue;
      inner.record({
        type: p.first.type,
        decision: 'deny',
        ...(p.first.reason !== undefined ? { reason: p.first.reason } : {}),
        ...(p.sameAction && p.first.action !== undefined ? { action: p.first.action } : {}),
        data: { source: p.source, aggregated: p.more, window_start: windowStart, window_ms: now - windowStart },
      });
    }
    pending.clear();
    windowStart = now;
  };

  // A window's counts are written when it is over, even if no refusal follows to notice that.
  const timer = setInterval(() => {
    if (opts.now() - windowStart >= opts.windowMs) closeWindow();
  }, opts.windowMs);
  timer.unref();

  return {
    record(e) {
      if (!isAnonymousDenial(e)) {
        inner.record(e);
        return;
      }
      if (opts.now() - windowStart >= opts.windowMs) closeWindow();
      const source = typeof e.data?.['source'] === 'string' ? e.data['source'] : '-';
      const base = `${e.type}\u0000${e.reason ?? ''}\u0000`;
      let key = base + source;
      if (!pending.has(key) && pending.size >= maxKeys) key = `${base}*`;
      const p = pending.get(key);
      if (p === undefined) {
        pending.set(key, { first: e, source: key.endsWith('\u0000*') ? '*' : source, more: 0, sameAction: true });
        inner.record(e);
        return;
      }
      p.more += 1;
      if (p.sameAction && e.action !== p.first.action) p.sameAction = false;
    },
    // A write-ahead record is never an anonymous denial: nothing is forwarded for one.
    commit: (e) => inner.commit(e),
    flush() {
      closeWindow();
      return inner.flush();
    },
    close() {
      clearInterval(timer);
      closeWindow();
      return inner.close();
    },
    healthy: () => inner.healthy(),
    pending: () => inner.pending(),
  };
}
