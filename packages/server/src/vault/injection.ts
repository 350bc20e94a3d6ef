/**
 * Credential injection rules: how a resource's upstream secret is put on the forwarded request. Principle 2: the
 * agent never holds the secret; the gateway adds it here, after removing anything the agent sent in its place, so an
 * agent can neither see Writ's credential nor substitute its own.
 */
import { z } from 'zod';
import type { SecretValue } from '../crypto/index.js';
import { VaultError } from './vault-error.js';

/** RFC 9110 §5.1 field-name = token (§5.6.2). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** RFC 9110 §5.5: no CTLs except HTAB in a field value; CR/LF would split the header (request smuggling). */
function hasControl(value: string, allowTab: boolean): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && !(allowTab && c === 0x09)) || c === 0x7f) return true;
  }
  return false;
}

/**
 * What this resource asks a minted credential for (an `oauth_client_credentials` secret): its own scope, RFC 8707
 * resource or audience at the upstream's authorization server, instead of the secret's defaults.
 */
const mintRequest = z
  .strictObject({
    scope: z
      .string()
      .max(1000)
      .regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, 'space-separated scope tokens (RFC 6749 §3.3)')
      .optional(),
    resource: z.url().max(2000).optional(),
    audience: z.string().max(1000).optional(),
  })
  .optional();

export const injectionRuleSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('header'),
    mint: mintRequest,
    name: z.string().max(100).regex(TOKEN, 'an HTTP header name (RFC 9110 token)'),
    prefix: z
      .string()
      .max(100)
      .refine((p) => !hasControl(p, true), 'no control characters or line breaks')
      .optional(),
  }),
  z.strictObject({ mode: z.literal('bearer'), mint: mintRequest }),
  // RFC 7617 §2: the user-id cannot contain a colon. Left out when the secret holds both parts (a static secret
  // stored as `username` and `password`).
  z.strictObject({
    mode: z.literal('basic'),
    username: z
      .string()
      .max(200)
      .refine((u) => !u.includes(':') && !hasControl(u, false), 'no ":" or control characters')
      .optional(),
  }),
  z.strictObject({ mode: z.literal('query'), name: z.string().min(1).max(100) }),
]);

export type InjectionRule = z.output<typeof injectionRuleSchema>;

export interface InjectionTarget {
  /** Outgoing request headers, names in lower case (as the gateway builds them); any case is handled. */
  headers: Record<string, string>;
  searchParams: URLSearchParams;
}

/**
 * Puts `secret` on the outgoing request as `rule` says, first removing every agent-supplied value of the same header
 * (case-insensitive) or query parameter (case-insensitive too: some upstreams read parameter names loosely, and
 * removing too much is the safe side). Throws `VaultError` ERR_VAULT_INJECTION_INVALID when the result would not be a
 * valid header; the message never contains the secret.
 *
 * @example
 * const headers = { authorization: 'Bearer agent-made-this-up' };
 * applyInjection({ mode: 'bearer' }, new SecretValue('sk-live'), { headers, searchParams: new URLSearchParams() });
 * headers.authorization // 'Bearer sk-live'
 */
export function applyInjection(rule: InjectionRule, secret: SecretValue, target: InjectionTarget, username?: SecretValue): void {
  switch (rule.mode) {
    case 'header': {
      if (!TOKEN.test(rule.name)) throw new VaultError('ERR_VAULT_INJECTION_INVALID', 'injection header name is not an RFC 9110 token');
      setHeader(target.headers, rule.name, `${rule.prefix ?? ''}${secret.reveal()}`);
      return;
    }
    case 'bearer':
      setHeader(target.headers, 'authorization', `Bearer ${secret.reveal()}`);
      return;
    case 'basic': {
      if (username !== undefined && rule.username !== undefined)
        throw new VaultError('ERR_VAULT_INJECTION_INVALID', 'the secret holds its own username: the basic rule must not name one');
      const user = username?.reveal() ?? rule.username;
      if (user === undefined)
        throw new VaultError(
          'ERR_VAULT_INJECTION_INVALID',
          'basic needs a username: in the rule, or a secret stored as username and password',
        );
      if (user.includes(':')) throw new VaultError('ERR_VAULT_INJECTION_INVALID', 'basic username must not contain ":" (RFC 7617)');
      setHeader(target.headers, 'authorization', `Basic ${Buffer.from(`${user}:${secret.reveal()}`, 'utf8').toString('base64')}`);
      return;
    }
    case 'query': {
      if (rule.name === '') throw new VaultError('ERR_VAULT_INJECTION_INVALID', 'injection query parameter name is empty');
      const lower = rule.name.toLowerCase();
      for (const key of [...new Set(target.searchParams.keys())]) {
        if (key.toLowerCase() === lower) target.searchParams.delete(key);
      }
      target.searchParams.set(rule.name, secret.reveal());
      return;
    }
    default: {
      const never: never = rule;
      throw new TypeError(`unknown injection mode ${String((never as { mode?: unknown }).mode)}`);
    }
  }
}

function setHeader(headers: Record<string, string>, name: string, value: string): void {
  if (hasControl(value, true)) {
    throw new VaultError(
      'ERR_VAULT_INJECTION_INVALID',
      `the value injected into header ${name} contains a control character or line break`,
    );
  }
  const lower = name.toLowerCase();
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === lower) delete headers[key];
  }
  headers[lower] = value;
}
