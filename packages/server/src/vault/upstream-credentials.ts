/**
 * What the gateway injects into one call, whatever kind of secret stands behind it: the value, the scrubber that
 * keeps it (and everything else of that secret) out of the answer, and a way to say the upstream refused it. The
 * gateway never learns the kind; the vault decides per call whose credential it is.
 */
import { SecretValue } from '../crypto/index.js';
import type { MintRequest, UpstreamTokenMinter } from './upstream-token-minter.js';
import type { ClientCredentialsMaterial } from './secret-kinds.js';
import { SecretScrubber, type InjectedValue } from './secret-scrubber.js';
import type { SecretEntry } from './vault.js';

/** Who a call is made for: the token's subject (the human), the acting agent and the task. */
export interface CallPrincipal {
  userId: string;
  agentId: string;
  taskId: string;
}

export interface UpstreamCredential {
  /** The vault secret this came from: named in audit records, never the value. */
  readonly secretId: string;
  /** What goes on the outgoing request (injection.ts). */
  readonly value: SecretValue;
  /** The user-id of a two-part Basic secret (the value is then its password). */
  readonly username?: SecretValue;
  /** Every value of this secret an upstream could echo, in every form: applied to the answer. */
  readonly scrubber: SecretScrubber;
  /**
   * Present when a fresh credential may be obtained: the upstream refused this one (401), so it is not handed out
   * again. A minted token can have been revoked or expired early at its authorization server; a static value cannot.
   */
  readonly rejected?: () => void;
}

export interface UpstreamCredentials {
  /** The credential for one call of `principal` to an upstream that injects `secretId`; `ask` is the resource's own request (scope …). */
  forCall(secretId: string, principal: CallPrincipal, ask?: MintRequest): Promise<UpstreamCredential>;
}

/**
 * Scrubbers built once per value: the vault hands out the same `SecretValue` object until the secret changes, so
 * the forms of a value are computed once, not per call.
 */
export class ScrubberCache {
  readonly #byValue = new WeakMap<SecretValue, SecretScrubber>();

  /** The scrubber of `value`, and of `also` (the rest of what the secret holds), built the first time `value` is seen. */
  of(secretId: string, value: SecretValue, also: () => SecretValue[] = () => []): SecretScrubber {
    let s = this.#byValue.get(value);
    if (s === undefined) {
      const values: InjectedValue[] = [value, ...also()].map((v) => ({ secretId, value: v }));
      s = SecretScrubber.of(values);
      this.#byValue.set(value, s);
    }
    return s;
  }
}

/**
 * Every kind of secret the vault holds, per call: a static value as it is stored; a token minted and cached by
 * `minter` (client credentials: Writ's own; token exchange: the call's user's and agent's). The scrubber of a minted
 * token covers the client secret too, which never goes upstream but must not come back either.
 *
 * @example
 * const credentials = vaultCredentials(vault, new UpstreamTokenMinter({ dispatcher, issuer, assertions, now, timeoutMs }));
 */
export function vaultCredentials(
  vault: { getSecretEntry(id: string): Promise<SecretEntry> },
  minter: UpstreamTokenMinter,
): UpstreamCredentials {
  const scrubbers = new ScrubberCache();
  // Parsed once per stored version: the vault hands out the same entry until the secret changes.
  const pairs = new WeakMap<SecretEntry, UpstreamCredential>();
  return {
    async forCall(secretId, principal, ask = {}) {
      const entry = await vault.getSecretEntry(secretId);
      if (entry.kind === 'static' && entry.config?.['format'] === 'basic') {
        let pair = pairs.get(entry);
        if (pair === undefined) {
          const { username, password } = JSON.parse(entry.value.reveal()) as { username: string; password: string };
          const value = new SecretValue(password);
          // The password, and the whole `user:password` (which base64-encoded is the header itself).
          const scrubber = SecretScrubber.of([value, new SecretValue(`${username}:${password}`)].map((v) => ({ secretId, value: v })));
          pair = { secretId, value, username: new SecretValue(username), scrubber };
          pairs.set(entry, pair);
        }
        return pair;
      }
      if (entry.kind === 'static') return { secretId, value: entry.value, scrubber: scrubbers.of(secretId, entry.value) };
      if (entry.kind === 'oauth_client_credentials' || entry.kind === 'token_exchange' || entry.kind === 'user_oauth') {
        const token = await minter.token(entry, ask, principal);
        return {
          secretId,
          value: token.value,
          scrubber: scrubbers.of(secretId, token.value, () => materialValues(entry)),
          rejected: () => minter.rejected(entry, ask, principal, token),
        };
      }
      throw new TypeError(`secret ${secretId} is of a kind this node cannot use: ${entry.kind}`);
    },
  };
}

function materialValues(entry: SecretEntry): SecretValue[] {
  const m = JSON.parse(entry.value.reveal()) as ClientCredentialsMaterial;
  return m.clientSecret !== undefined ? [new SecretValue(m.clientSecret)] : [];
}

/**
 * Static secrets: the stored value is what is injected.
 *
 * @example
 * const credentials = staticCredentials({ get: (id) => vault.getSecretValue(id) });
 * const c = await credentials.forCall('github', principal); // c.value, c.scrubber
 */
export function staticCredentials(secrets: { get(id: string): SecretValue | Promise<SecretValue> }): UpstreamCredentials {
  const scrubbers = new ScrubberCache();
  return {
    async forCall(secretId) {
      const value = await secrets.get(secretId);
      return { secretId, value, scrubber: scrubbers.of(secretId, value) };
    },
  };
}
