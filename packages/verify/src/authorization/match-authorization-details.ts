/**
 * Is a call covered by a token's RFC 9396 `authorization_details` (§2: `type`, `locations`, `actions`; Writ's `http`
 * type adds `paths`)? Only `http` details can cover an HTTP call; unknown types never match; an empty list matches
 * nothing; a detail with any invalid pattern grants nothing. `isSubsetOf` decides attenuation structurally: does the
 * parent allow every call the child allows? (`mcp` details: match-mcp-tool-call.ts.)
 */
import type { AuthorizationDetail, HttpAuthorizationDetail, TaskAuthorizationDetail } from '@writ/protocol';
import { compilePathPattern, matchSegments, patternContains, type CompiledPattern } from './path-pattern.js';
import { mcpDetailCovered } from './match-mcp-tool-call.js';

export interface HttpCall {
  /** The resource identifier (the token's audience). */
  resource: string;
  method: string;
  /** Canonical path from normalizeRequestPath. */
  path: string;
}

const compiled = new WeakMap<HttpAuthorizationDetail, CompiledPattern[] | null>();

function patternsOf(d: HttpAuthorizationDetail): CompiledPattern[] | null {
  let c = compiled.get(d);
  if (c === undefined) {
    try {
      c = Array.isArray(d.paths) ? d.paths.map((p) => compilePathPattern(p)) : null;
    } catch {
      // A token with an invalid pattern grants nothing through that detail.
      c = null;
    }
    compiled.set(d, c);
  }
  return c;
}

function isHttp(d: TaskAuthorizationDetail): d is HttpAuthorizationDetail {
  return (
    typeof d === 'object' &&
    d !== null &&
    d.type === 'http' &&
    Array.isArray(d.actions) &&
    (d.locations === undefined || Array.isArray(d.locations))
  );
}

/**
 * True when some `http` detail allows this method on this (canonical) path at this resource.
 *
 * @example
 * const path = normalizeRequestPath('/v1/projects/42');
 * matchAuthorizationDetails([{ type: 'http', actions: ['GET'], paths: ['/v1/projects/*'] }], { resource: aud, method: 'GET', path }); // true
 */
export function matchAuthorizationDetails(details: readonly TaskAuthorizationDetail[], call: HttpCall): boolean {
  const segments = call.path === '/' ? [''] : call.path.slice(1).split('/');
  for (const d of details) {
    if (!isHttp(d)) continue;
    if (d.locations !== undefined && !d.locations.includes(call.resource)) continue;
    if (!d.actions.includes(call.method as HttpAuthorizationDetail['actions'][number])) continue;
    const patterns = patternsOf(d);
    if (patterns !== null && patterns.some((p) => matchSegments(p, segments))) return true;
  }
  return false;
}

/**
 * True when every call the child details allow is allowed by the parent details (sound: never true when some call
 * escapes; false when unsure). `http`: decided per (method, child pattern) by pattern containment, so it may answer
 * false when only the union of several parent patterns covers a child pattern. `mcp`: decided per child tool
 * pattern — one parent detail must contain the pattern, and each of that detail's argument constraints must be
 * implied by the child detail's constraint on the same argument. An `http` detail never covers an `mcp` one or the
 * reverse; unknown types are never covered. A child detail without `locations` is covered only by a
 * parent detail without `locations`; the token service narrows the audience separately.
 *
 * @example
 * isSubsetOf([{ type: 'http', actions: ['GET'], paths: ['/v1/a/*'] }], [{ type: 'http', actions: ['GET', 'POST'], paths: ['/v1/**'] }]); // true
 * isSubsetOf([{ type: 'mcp', tools: ['read_file'], arguments: { path: { prefix: '/srv/a/' } } }], [{ type: 'mcp', tools: ['read*'], arguments: { path: { prefix: '/srv/' } } }]); // true
 */
export function isSubsetOf(child: readonly AuthorizationDetail[], parent: readonly TaskAuthorizationDetail[]): boolean {
  const parents = parent.filter(isHttp);
  for (const c of child) {
    if (typeof c === 'object' && c !== null && c.type === 'mcp') {
      if (!mcpDetailCovered(c, parent)) return false;
      continue;
    }
    if (!isHttp(c)) return false;
    const cp = patternsOf(c);
    if (cp === null) return false;
    for (const method of c.actions) {
      for (const pattern of cp) {
        const covered = parents.some((p) => {
          if (!p.actions.includes(method)) return false;
          if (p.locations !== undefined && (c.locations === undefined || !c.locations.every((l) => p.locations?.includes(l)))) return false;
          const pp = patternsOf(p);
          return pp !== null && pp.some((outer) => patternContains(outer, pattern));
        });
        if (!covered) return false;
      }
    }
  }
  return true;
}
