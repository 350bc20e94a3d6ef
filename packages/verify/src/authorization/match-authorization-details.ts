/**
 * Is a call covered by a token's RFC 9396 `authorization_details` (§2: `type`, `locations`, `actions`; Writ's `http`
 * type adds `paths`)? Only `http` details can cover an HTTP call; unknown types never match; an empty list matches
 * nothing; a detail with any invalid pattern grants nothing. `isSubsetOf` decides attenuation structurally: does the
 * parent allow every call the child allows?
 */
import type { AuthorizationDetail, HttpAuthorizationDetail } from '@writ/protocol';
import { compilePathPattern, matchSegments, patternContains, type CompiledPattern } from './path-pattern.js';

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

function isHttp(d: AuthorizationDetail): d is HttpAuthorizationDetail {
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
export function matchAuthorizationDetails(details: readonly AuthorizationDetail[], call: HttpCall): boolean {
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
 * True when every (location, method, path) the child details allow is allowed by the parent details, decided per
 * child pattern by pattern containment (sound: never true when some call escapes; it may answer false when only the
 * union of several parent patterns covers a child pattern). A child detail without `locations` is covered only by a
 * parent detail without `locations`; the token service narrows the audience separately.
 *
 * @example
 * isSubsetOf([{ type: 'http', actions: ['GET'], paths: ['/v1/a/*'] }], [{ type: 'http', actions: ['GET', 'POST'], paths: ['/v1/**'] }]); // true
 */
export function isSubsetOf(child: readonly AuthorizationDetail[], parent: readonly AuthorizationDetail[]): boolean {
  const parents = parent.filter(isHttp);
  for (const c of child) {
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
