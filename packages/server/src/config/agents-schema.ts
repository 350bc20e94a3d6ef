/** The `agents` section of the configuration schema (schema.ts): the register's lifecycle of agents. */
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
