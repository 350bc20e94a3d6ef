/**
 * RFC 9396 `authorization_details`: a JSON array of typed objects. Unknown types, missing or malformed fields, or
 * `locations` other than the requested resource are `invalid_authorization_details` (RFC 9396 §5). Path patterns
 * are validated and put in canonical form by the shared implementation in @writ/verify.
 */
import { z } from 'zod';
import { HTTP_METHODS, type AuthorizationDetail, type HttpAuthorizationDetail } from '@writ/protocol';
import { canonicalPathPattern } from '@writ/verify';
import { OAuthError } from '../../errors/index.js';

const MAX_DETAILS = 32;
const MAX_ITEMS = 64;

const httpDetail = z.strictObject({
  type: z.literal('http'),
  locations: z.array(z.string()).min(1).max(4).optional(),
  actions: z.array(z.enum(HTTP_METHODS)).min(1).max(HTTP_METHODS.length),
  paths: z.array(z.string().min(1).max(1024)).min(1).max(MAX_ITEMS),
});

export function parseAuthorizationDetails(raw: string | undefined, resourceUri: string): HttpAuthorizationDetail[] {
  if (raw === undefined)
    throw new OAuthError('invalid_authorization_details', 'authorization_details is required: a task starts with nothing');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new OAuthError('invalid_authorization_details', 'authorization_details must be a JSON array');
  }
  if (!Array.isArray(json) || json.length === 0 || json.length > MAX_DETAILS) {
    throw new OAuthError('invalid_authorization_details', `authorization_details must be a JSON array of 1 to ${MAX_DETAILS} objects`);
  }
  return json.map((item, i): HttpAuthorizationDetail => {
    const type = (item as { type?: unknown } | null)?.type;
    if (type !== 'http')
      throw new OAuthError(
        'invalid_authorization_details',
        `authorization_details[${i}]: unsupported type ${JSON.stringify(type ?? null)}`,
      );
    const r = httpDetail.safeParse(item);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new OAuthError(
        'invalid_authorization_details',
        `authorization_details[${i}].${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const d = r.data;
    if (d.locations !== undefined && !d.locations.every((l) => l === resourceUri)) {
      throw new OAuthError('invalid_authorization_details', `authorization_details[${i}].locations must name the requested resource`);
    }
    const paths = d.paths.map((p) => {
      try {
        return canonicalPathPattern(p);
      } catch (err) {
        throw new OAuthError(
          'invalid_authorization_details',
          `authorization_details[${i}].paths: ${JSON.stringify(p)} is not a valid path pattern`,
          { detail: String(err) },
        );
      }
    });
    return { type: 'http', locations: [resourceUri], actions: [...new Set(d.actions)], paths: [...new Set(paths)] };
  });
}

/** One (method, path pattern) pair: the unit that policy decides. */
export interface HttpAtom {
  method: (typeof HTTP_METHODS)[number];
  path: string;
}

export function atomsOf(details: HttpAuthorizationDetail[]): HttpAtom[] {
  const seen = new Set<string>();
  const atoms: HttpAtom[] = [];
  for (const d of details) {
    for (const method of d.actions) {
      for (const path of d.paths) {
        const key = `${method} ${path}`;
        if (!seen.has(key)) {
          seen.add(key);
          atoms.push({ method, path });
        }
      }
    }
  }
  return atoms;
}

/** Rebuilds details from the granted atoms: one detail per path with its granted methods, in request order. */
export function detailsFromAtoms(atoms: HttpAtom[], resourceUri: string): AuthorizationDetail[] {
  const byPath = new Map<string, Set<HttpAtom['method']>>();
  for (const a of atoms) {
    const set = byPath.get(a.path) ?? new Set();
    set.add(a.method);
    byPath.set(a.path, set);
  }
  // Group paths that share the same method set, so the token stays small.
  const groups = new Map<string, { actions: HttpAtom['method'][]; paths: string[] }>();
  for (const [path, methods] of byPath) {
    const actions = HTTP_METHODS.filter((m) => methods.has(m));
    const key = actions.join(',');
    const g = groups.get(key) ?? { actions, paths: [] };
    g.paths.push(path);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({ type: 'http', locations: [resourceUri], actions: g.actions, paths: g.paths }));
}
