/** Identifier rules for registered objects: short, URL-safe, readable in policies and paths. */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** Lower-case letters, digits and dashes; starts with a letter; 1–64 characters. Used in `/r/{resource}` paths and Cedar ids. */
export const registerId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,63}$/, 'lower-case letters, digits and "-", starting with a letter, at most 64 characters');

/** A random, unguessable id with a readable prefix (`task_…`, `tok_…`). 128 bits. */
export function randomId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}
