/**
 * The governance sections of the configuration schema (schema.ts): `agents`, the register's lifecycle of agents, and
 * `approvals`, the call-bound approvals a grant's `@approval` asks for.
 */
import { z } from 'zod';

export const agentsConfig = z
  .strictObject({
    onOwnerOffboarded: z
      .enum(['suspend', 'flag'])
      .default('suspend')
      .describe(
        'what a user revocation does to the agents that person owns (owner = their Writ user id): `suspend` them (every token they hold revoked) or only `flag` them for review — see [governance.md](governance.md#the-registers-lifecycle)',
      ),
    lastUsedFlushSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(30)
      .describe("how often each node writes agents' `last_used_at` (a token or a call only notes the time in memory)"),
    reviewWithinDays: z
      .number()
      .int()
      .min(0)
      .max(3650)
      .default(30)
      .describe('`writ agents review` and the posture report: ends and reviews due within this many days are listed'),
    unusedDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .default(90)
      .describe('an agent that has not acted for this many days (or never, since its registration) is listed as unused'),
  })
  .prefault({});

export const approvalsConfig = z
  .strictObject({
    pendingSeconds: z
      .number()
      .int()
      .min(30)
      .max(86_400)
      .default(900)
      .describe('how long a held-back call waits for a decision; after that the agent must send it again (a new approval)'),
    approvedSeconds: z
      .number()
      .int()
      .min(10)
      .max(3600)
      .default(300)
      .describe('how long an approved call may be sent again (once) before its approval expires'),
    webhook: z
      .strictObject({
        url: z
          .url({ protocol: /^https?$/ })
          .describe('where each new pending approval is POSTed as JSON (through the egress rules; retried)'),
        authorization: z
          .string()
          .min(1)
          .max(4096)
          .optional()
          .describe('the exact `Authorization` header sent with it (a secret: prefer WRIT_APPROVALS_WEBHOOK_AUTHORIZATION)'),
      })
      .optional()
      .describe('tells approvers (a chat bot, a ticketing system) of every call waiting for them, with the page that decides it'),
  })
  .prefault({});

export const budgetsConfig = z
  .strictObject({
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
      .optional()
      .describe(
        'keep the budget and rate-limit counters in this Redis (standalone or behind Sentinel) instead of the database; a secret when it holds a password — see [governance.md](governance.md#budgets-and-rate-limits)',
      ),
    redisKeyPrefix: z
      .string()
      .min(1)
      .max(100)
      .default('writ:budget:')
      .describe('prefix of every counter key Writ writes in Redis (two deployments sharing one Redis need different ones)'),
    asynchronousCommit: z
      .boolean()
      .default(true)
      .describe(
        "on PostgreSQL, commit counter writes without waiting for the WAL flush (`synchronous_commit = off`, on connections of their own): a budgeted call costs ~0.5 ms less, and a PostgreSQL crash (not Writ's) can lose the last ~0.6 s of counts, so that many calls may pass a budget once; `false` loses none — see [governance.md](governance.md#budgets-and-rate-limits)",
      ),
  })
  .prefault({});
