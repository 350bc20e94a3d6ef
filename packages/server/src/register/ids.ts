/** Identifier rules for registered objects: short, URL-safe, readable in policies and paths. */
import { timeOrderedId } from '../crypto/index.js';
import { z } from 'zod';

/** Lower-case letters, digits and dashes; starts with a letter; 1–64 characters. Used in `/r/{resource}` paths and Cedar ids. */
export const registerId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,63}$/, 'lower-case letters, digits and "-", starting with a letter, at most 64 characters');

/**
 * An unguessable id with a readable prefix (`task_…`, `tok_…`): 96 random bits after a millisecond prefix, so the
 * ids that audit rows are indexed by arrive in order (see crypto/time-ordered-id.ts).
 */
export function randomId(prefix: string): string {
  return timeOrderedId(prefix);
}
