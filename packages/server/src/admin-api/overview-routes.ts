/**
 * What the console's overview shows, read from the same store and node state as every other admin route: tasks live,
 * calls and denials per minute, this node's revocation freshness and upstream use; and the console's one-time
 * sign-in links.
 */
import { sql } from 'kysely';
import { z } from 'zod';
import type { AdminOverview } from '@writ/protocol';
import { AdminError } from '../errors/index.js';
import type { AdminRoute } from './routes.js';

const MINUTE_MS = 60_000;
/** The minute of an event: one literal expression, the same text in the select and the group by on both stores. */
const minuteOf = sql<number | string>`time / ${sql.lit(MINUTE_MS)}`;
const overviewQuery = z.strictObject({ minutes: z.coerce.number().int().min(1).max(180).default(15) });

/**
 * Minutes older than the last two are final (a record is written within moments of its call, on any node's clock):
 * each is counted once per store and kept, so an open overview counts about two minutes of the log per refresh, not
 * fifteen, however busy the gateways are.
 */
const settledMinutes = new WeakMap<object, Map<number, { allowed: number; denied: number }>>();
const KEEP_MINUTES = 180;

/** One minute of gateway traffic: calls forwarded and calls refused (HTTP and MCP alike). */
export interface MinuteOfCalls {
  minute: number;
  allowed: number;
  denied: number;
}

export const OVERVIEW_ROUTES: AdminRoute[] = [
  {
    method: 'GET',
    url: '/overview',
    tag: 'overview',
    summary:
      "Tasks live, calls and denials per minute, pending approvals, this node's revocation freshness and upstream use, and every cluster node's freshness as last reported",
    query: overviewQuery,
    handler: async ({ query, services }) => {
      const { minutes } = query as z.output<typeof overviewQuery>;
      await services.flushAudit();
      const now = services.now();
      const current = Math.floor(now / MINUTE_MS);
      const first = current - minutes + 1;
      const settledUpTo = current - 2;
      let cache = settledMinutes.get(services.db);
      if (cache === undefined) settledMinutes.set(services.db, (cache = new Map()));
      let countFrom = first;
      while (countFrom <= settledUpTo && cache.has(countFrom)) countFrom++;
      const [live, rows, pending, node, nodes] = await Promise.all([
        services.db
          .selectFrom('tasks')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .where('status', '=', 'active')
          .where('expires_at', '>', now)
          .executeTakeFirstOrThrow(),
        services.db
          .selectFrom('audit_events')
          .select([minuteOf.as('minute'), 'type', (eb) => eb.fn.countAll<number | string>().as('n')])
          .where('time', '>=', countFrom * MINUTE_MS)
          .where('type', 'in', ['call.allowed', 'call.denied'])
          .groupBy([minuteOf, 'type'])
          .execute(),
        services.db
          .selectFrom('approvals')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .where('status', '=', 'pending')
          .where('expires_at', '>', now)
          .executeTakeFirstOrThrow(),
        services.node(),
        services.nodes(),
      ]);
      const counted = new Map<number, { allowed: number; denied: number }>();
      for (const r of rows) {
        const m = Math.floor(Number(r.minute));
        const c = counted.get(m) ?? { allowed: 0, denied: 0 };
        if (r.type === 'call.allowed') c.allowed += Number(r.n);
        else c.denied += Number(r.n);
        counted.set(m, c);
      }
      for (let m = countFrom; m <= settledUpTo; m++) cache.set(m, counted.get(m) ?? { allowed: 0, denied: 0 });
      for (const m of cache.keys()) if (m < current - KEEP_MINUTES) cache.delete(m);
      const perMinute: MinuteOfCalls[] = [];
      for (let m = first; m <= current; m++) {
        const c = (m < countFrom ? cache.get(m) : undefined) ?? counted.get(m) ?? { allowed: 0, denied: 0 };
        perMinute.push({ minute: m * MINUTE_MS, allowed: c.allowed, denied: c.denied });
      }
      return {
        time: now,
        tasks: { active: Number(live.n) },
        approvals: { pending: Number(pending.n) },
        calls: perMinute,
        node: {
          ready: node.ready,
          revocation: node.checks.revocation,
          upstreams: node.checks.upstreams,
          cluster: node.checks.cluster,
        },
        // Every node's own number, as each last reported it (null on the embedded store: this node is the only one).
        nodes,
      } satisfies AdminOverview;
    },
  },
  {
    method: 'POST',
    url: '/console/links',
    tag: 'console',
    status: 201,
    summary: 'A one-time link that signs the admin token holder in to the console (five minutes, once): its session acts as this token',
    handler: async ({ principal, services }) => {
      if (services.consoleLinks === undefined) throw new AdminError('ERR_ADMIN_NOT_FOUND', 'the console is not served by this node');
      if (principal.via !== 'token') throw new AdminError('ERR_ADMIN_FORBIDDEN', 'only an admin token makes console links');
      return services.consoleLinks.create(principal);
    },
  },
];
