/** Identifier rules for registered objects: short, URL-safe, readable in policies and paths. */
import { z } from 'zod';
import { timeOrderedId } from './time-ordered-id.js';

/** Lower-case letters, digits and dashes; starts with a letter; 1–64 characters. Used in `/r/{resource}` paths and Cedar ids. */
const REGISTER_ID = /^[a-z][a-z0-9-]{0,63}$/;

/** The one rule for an agent, resource, grant or provider id: the register validates with it, the gateways look up with it. */
export function isRegisterId(value: string): boolean {
  return REGISTER_ID.test(value);
}

export const registerId = z
  .string()
  .regex(REGISTER_ID, 'lower-case letters, digits and "-", starting with a letter, at most 64 characters');

/**
 * An unguessable id with a readable prefix (`task_…`, `tok_…`): 96 random bits after a millisecond prefix, so the
 * ids that audit rows are indexed by arrive in order (see time-ordered-id.ts).
 */
export function randomId(prefix: string): string {
  return timeOrderedId(prefix);
}
