/**
 * The `console` section of the configuration schema (schema.ts): the operator console Writ serves at `/console/`,
 * who may open it (roles from a claim of the sign-in's ID token) and how long a console session lives.
 */
import { z } from 'zod';

const roleValues = z.array(z.string().min(1).max(200)).max(100).default([]);

export const consoleConfig = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        'serve the operator console at `/console/` (control role); people sign in at `authorization.login` ([console.md](console.md))',
      ),
    roles: z
      .strictObject({
        claim: z
          .string()
          .regex(/^[A-Za-z0-9_.:-]{1,100}$/)
          .default('groups')
          .describe('the ID-token claim (a string or an array of strings) the roles are read from'),
        admin: roleValues.describe('values of that claim that make a person a console admin (every change the admin API allows)'),
        readOnly: roleValues.describe('values that make a person a read-only operator (every page, no change: the server refuses them)'),
      })
      .prefault({}),
    idleMinutes: z
      .number()
      .int()
      .min(1)
      .max(480)
      .default(30)
      .describe('a console session no one has used for this long is over (the live pages refreshing themselves do not count)'),
    absoluteHours: z.number().int().min(1).max(24).default(8).describe('a console session is over this long after sign-in, used or not'),
  })
  .prefault({});
