/** The audit part of the admin API: query, verify (alone or against anchors), export (rows or OCSF), checkpoints. */
import { z } from 'zod';
import { databaseLog, queryAudit, toOcsf, verifyAuditChain, type AuditEvent } from '../audit/index.js';
import { AdminError } from '../errors/index.js';
import type { AdminRoute } from './routes.js';

const pageQuery = z.strictObject({
  after_seq: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(5000).optional(),
});

const exportQuery = pageQuery.extend({ format: z.enum(['jsonl', 'ocsf']).default('jsonl') });

const anchorsBody = z.strictObject({
  anchors: z
    .array(z.strictObject({ seq: z.number().int().positive(), hash: z.string().regex(/^[0-9a-f]{64}$/) }))
    .min(1, 'at least one anchor: without any, GET /audit/verify is the check')
    .max(100_000),
});

const auditQuery = z.strictObject({
  task: z.string().max(200).optional(),
  agent: z.string().max(200).optional(),
  user: z.string().max(400).optional(),
  trace: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  type: z.string().max(100).optional(),
  decision: z.enum(['allow', 'deny']).optional(),
  resource: z.string().max(200).optional(),
  since: z.coerce.number().int().nonnegative().optional(),
  until: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  /** Only events before this seq: with `order=desc`, the next page of an explorer. */
  before_seq: z.coerce.number().int().positive().optional(),
  order: z.enum(['asc', 'desc']).default('asc'),
});

export const AUDIT_ROUTES: AdminRoute[] = [
  {
    method: 'GET',
    url: '/audit',
    tag: 'audit',
    summary: 'Query audit events by task, agent, user, trace, type, decision, resource and time (oldest or newest first)',
    query: auditQuery,
    handler: async ({ query, services }) => {
      await services.flushAudit();
      const q = query as z.output<typeof auditQuery>;
      return queryAudit(services.db, {
        ...(q.task !== undefined ? { taskId: q.task } : {}),
        ...(q.agent !== undefined ? { agentId: q.agent } : {}),
        ...(q.user !== undefined ? { userId: q.user } : {}),
        ...(q.trace !== undefined ? { traceId: q.trace } : {}),
        ...(q.type !== undefined ? { type: q.type } : {}),
        ...(q.decision !== undefined ? { decision: q.decision } : {}),
        ...(q.resource !== undefined ? { resource: q.resource } : {}),
        ...(q.before_seq !== undefined ? { beforeSeq: q.before_seq } : {}),
        ...(q.order === 'desc' ? { newestFirst: true } : {}),
        ...(q.since !== undefined ? { since: q.since } : {}),
        ...(q.until !== undefined ? { until: q.until } : {}),
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
      });
    },
  },
  {
    method: 'GET',
    url: '/audit/verify',
    tag: 'audit',
    summary: 'Verify the audit hash chain; reports the first altered, inserted or removed event',
    handler: async ({ services }) => {
      await services.flushAudit();
      return verifyAuditChain(services.db);
    },
  },
  {
    method: 'POST',
    url: '/audit/verify',
    tag: 'audit',
    changes: false,
    summary:
      'Verify the audit hash chain against anchors (seq, hash) held outside the database — the signed checkpoints, checked by the caller: a cut tail or a rewritten event is reported',
    body: anchorsBody,
    handler: async ({ body, services }) => {
      await services.flushAudit();
      return verifyAuditChain(services.db, { anchors: (body as z.output<typeof anchorsBody>).anchors });
    },
  },
  {
    method: 'GET',
    url: '/audit/export',
    tag: 'audit',
    summary:
      'The stored log in seq order, a page at a time: `jsonl` the rows with body, prev_hash and hash (what `writ audit verify --log` checks), `ocsf` each event as an OCSF 1.3.0 event',
    query: exportQuery,
    handler: async ({ query, services }) => {
      await services.flushAudit();
      const q = query as z.output<typeof exportQuery>;
      const rows = await databaseLog(services.db).rowsAfter(q.after_seq ?? 0, q.limit ?? 1000);
      if (q.format === 'jsonl') return rows;
      return rows.map((r) => toOcsf({ seq: r.seq, event: JSON.parse(r.body) as AuditEvent }, { productVersion: services.version }));
    },
  },
  {
    method: 'POST',
    url: '/audit/checkpoints',
    tag: 'audit',
    summary: 'Sign the current head of the audit chain now (at a head already signed, the stored checkpoint)',
    handler: async ({ services }) => {
      await services.flushAudit();
      const made = await services.checkpoints.create();
      if (made === undefined) throw new AdminError('ERR_ADMIN_CONFLICT', 'the audit log is empty: there is no head to sign');
      return { ...made.checkpoint, created: made.created };
    },
  },
  {
    method: 'GET',
    url: '/audit/checkpoints',
    tag: 'audit',
    summary: 'Signed checkpoints of the audit chain, oldest first (export them; verify with the JWKS)',
    query: pageQuery,
    handler: ({ query, services }) => {
      const q = query as z.output<typeof pageQuery>;
      return services.checkpoints.list({ afterSeq: q.after_seq ?? 0, limit: q.limit ?? 1000 });
    },
  },
];
