/**
 * A task's audit trail as a person reads it: user → agent chain → each call with its decision and reason. Works on
 * what `GET /admin/v1/tasks/{id}/audit` answers, so the CLI and the dev demo print the same picture.
 */

export interface ChainEvent {
  id?: string;
  seq?: number;
  time: number;
  type: string;
  task_id?: string | null;
  agent_id?: string | null;
  user_id?: string | null;
  actor_chain?: string[];
  action?: string;
  decision?: string | null;
  reason?: string | null;
  trace_id?: string | null;
  data?: Record<string, unknown>;
}

/**
 * Prints user → agent → calls for each task in the chain, oldest first, each call with its decision and reason. A
 * call's outcome record is folded into the line of the write-ahead record it points to (`→ status`, and the outcome
 * when it is not `completed`); a write-ahead record without an outcome is marked: the call's result was never
 * recorded (the node stopped while it ran).
 */
export function printAuditChain(input: unknown, out: (line: string) => void = console.log): void {
  const all = normalizeEvents(input);
  const outcomes = new Map<string, ChainEvent>();
  for (const e of all) if (e.type === 'call.outcome' && typeof e.data?.['of'] === 'string') outcomes.set(e.data['of'], e);
  const ids = new Set(all.map((e) => e.id));
  const events = all.filter((e) => !(e.type === 'call.outcome' && ids.has(e.data?.['of'] as string)));
  if (events.length === 0) {
    out('(no audit events)');
    return;
  }
  const byTask = new Map<string, ChainEvent[]>();
  for (const e of events) {
    const key = e.task_id ?? '(no task)';
    const list = byTask.get(key) ?? [];
    list.push(e);
    byTask.set(key, list);
  }
  for (const [taskId, list] of byTask) {
    const issued = list.find((e) => e.type === 'token.issued' || e.type === 'token.delegated');
    const chain = issued?.actor_chain ?? list.find((e) => e.actor_chain !== undefined)?.actor_chain ?? [];
    const [user, ...agents] = chain;
    const purpose = typeof issued?.data?.['purpose'] === 'string' && issued.data['purpose'] !== '' ? `  "${issued.data['purpose']}"` : '';
    out(`${user ?? '?'}`);
    out(`└─ ${agents.join(' → ') || '?'}   task ${taskId}${purpose}`);
    list.forEach((e, i) => {
      const last = i === list.length - 1;
      const mark = e.decision === 'allow' ? 'ALLOW' : e.decision === 'deny' ? 'DENY ' : '     ';
      const what = e.type.startsWith('call.') ? `${e.action ?? ''}` : e.type;
      const outcome = e.id !== undefined ? outcomes.get(e.id) : undefined;
      const measured = outcome ?? e;
      const status = typeof measured.data?.['status'] === 'number' ? ` → ${measured.data['status']}` : '';
      const ended =
        e.type === 'call.allowed' && e.data?.['status'] === undefined
          ? outcome === undefined
            ? ', no outcome recorded'
            : outcome.reason !== 'completed'
              ? `, ${outcome.reason ?? ''}`
              : ''
          : '';
      out(
        `   ${last ? '└─' : '├─'} ${new Date(e.time).toISOString().slice(11, 23)}  ${mark}  ${what}${status}  (${e.reason ?? ''}${ended})`,
      );
    });
  }
}

function normalizeEvents(input: unknown): ChainEvent[] {
  const raw = Array.isArray(input)
    ? input
    : Array.isArray((input as { events?: unknown })?.events)
      ? (input as { events: unknown[] }).events
      : [];
  return raw.map((e) => {
    const r = e as ChainEvent & { body?: string };
    if (typeof r.body === 'string' && r.actor_chain === undefined) {
      try {
        return { ...r, ...(JSON.parse(r.body) as ChainEvent) };
      } catch {
        return r;
      }
    }
    return r;
  });
}
