/** Admin input through a zod schema; a mismatch is ERR_ADMIN_INVALID_REQUEST naming each field, never a ZodError. */
import type { ZodType, z } from 'zod';
import { AdminError } from '../errors/index.js';

export function parseInput<S extends ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const details = r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(body)'}: ${i.message}`);
    throw new AdminError('ERR_ADMIN_INVALID_REQUEST', details.join('; '), details);
  }
  return r.data;
}
