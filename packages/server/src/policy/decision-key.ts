/**
 * The parts of a decision-cache key both caches share: the request's principal, action and resource, and only the
 * context attributes some policy can read (context-use.ts), in a canonical spelling so that equal requests give
 * equal keys whatever their member order.
 */
import type { ContextUse, CedarRequest, CedarValue } from './types.js';

export function requestKey(req: CedarRequest, use: ContextUse): string {
  const ctx = use.all ? req.context : pick(req.context, use.attributes);
  return `${req.principal.type}:${req.principal.id}\u0000${req.action.type}:${req.action.id}\u0000${req.resource.type}:${req.resource.id}\u0000${canonical(ctx)}`;
}

function pick(ctx: Record<string, CedarValue>, attrs: readonly string[]): Record<string, CedarValue> {
  const out: Record<string, CedarValue> = {};
  for (const a of attrs) if (a in ctx) out[a] = ctx[a] as CedarValue;
  return out;
}

/** JSON with sorted keys, so equal values give equal strings. */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}
