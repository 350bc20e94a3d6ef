/**
 * The one registry of Writ's internal error codes: failures that stay inside a process (or reach an operator's
 * terminal) rather than an agent. Each module's error class takes its codes from here, so a code is named once,
 * never reused, and documented in docs/errors.md (a test keeps the two equal). Wire errors have their own families:
 * enforcement codes in @writ/protocol, OAuth, admin, JSON-RPC and Shared Signals in this folder.
 */
export const INTERNAL_ERROR_CODES = {
  ERR_CONFIG_INVALID: 'the configuration file, environment or flags do not validate; nothing was started',
  ERR_CRYPTO_KEK_INVALID: 'the key-encryption key given to Writ is unusable (wrong length, not base64)',
  ERR_CRYPTO_KEK_UNKNOWN: 'an envelope names a key-encryption key id Writ has not been given',
  ERR_CRYPTO_ENVELOPE_MALFORMED: 'a stored envelope is not a well-formed v1 envelope',
  ERR_CRYPTO_UNWRAP_FAILED: 'a data key did not unwrap: another KEK under the same id, or a tampered key part',
  ERR_CRYPTO_DECRYPT_FAILED: 'stored data did not decrypt: tampered, or moved to another record',
  ERR_VAULT_SECRET_UNKNOWN: 'a resource names a secret that does not exist',
  ERR_VAULT_INJECTION_INVALID: 'an injection rule, or the secret it would inject, cannot form a valid header or query parameter',
  ERR_AUDIT_UNAVAILABLE:
    'the write-ahead audit record of a call was not committed in time (store failing, writer backlog over its bound, or `audit.commitTimeoutMs` passed); the call is refused with ERR_NOT_READY and never forwarded',
  ERR_POLICY_ENGINE: 'the policy worker failed, stopped or was closed; the decision it owed is a denial',
  ERR_SUBJECT_PATTERN_INVALID: 'a workload subject pattern is malformed',
  ERR_INPUT_UNACCEPTABLE: 'input no store may hold (a NUL character in text) reached the store guard; the request is answered 400',
  ERR_HTTP_REQUEST_TIMEOUT:
    'a client did not send its request line and headers within `server.headersTimeoutMs`, or its whole request within `server.requestTimeoutMs`; the listener answers 408 and closes the connection (audited as `request.refused`)',
  ERR_HTTP_MALFORMED:
    'a request the HTTP parser could not read (malformed, or headers over `server.maxHeaderBytes`: 431); the listener answers and closes the connection (audited as `request.refused`)',
  ERR_ADMIN_CLIENT_UNREACHABLE: 'the admin client could not reach Writ at the URL it was given',
  ERR_ADMIN_CLIENT_BAD_RESPONSE: 'Writ answered the admin client with something that is not the admin API',
} as const;

export type InternalErrorCode = keyof typeof INTERNAL_ERROR_CODES;

/** The internal codes of one area, e.g. `CodesOf<'CRYPTO'>`. */
export type CodesOf<Area extends string> = Extract<InternalErrorCode, `ERR_${Area}_${string}`>;
