/**
 * What every per-call check on this node shares (@writ/verify's checkCall, used by both gateways, the token endpoint
 * and introspection): the issuer and its keys, the proofs already seen, the nonces, the revocation set, the verified
 * tokens. Where a proof is remembered decides where it is single-use: in this process, across the sibling loops of
 * `writ serve --workers`, or — on a shared database — across every node.
 */
import type { Kysely } from 'kysely';
import {
  createDpopNonces,
  InMemoryReplayCache,
  VerifiedTokenCache,
  type CheckCallContext,
  type RevocationSet,
} from '@writ/verify/internal';
import { DPOP_ALGS } from '@writ/protocol';
import type { WritConfig } from '../config/index.js';
import type { Database, Dialect, Store } from '../storage/index.js';
import type { KeyRing } from '../crypto/index.js';
import { deriveKey } from '../crypto/index.js';
import { SharedReplayCache } from '../dpop/index.js';
import type { SigningKeys } from '../token/index.js';
import type { SiblingBus } from '../workers/index.js';

export interface CallCheckWiring {
  config: WritConfig;
  db: Kysely<Database>;
  dialect: Dialect;
  /** The store's own connections for a writer (PostgreSQL): where proofs go when they commit asynchronously. */
  dedicated: Store['dedicated'];
  kek: KeyRing;
  issuer: string;
  keys: SigningKeys;
  revocations: RevocationSet;
  siblings: SiblingBus | undefined;
  now: () => number;
}

export interface CallCheckParts {
  check: Omit<CheckCallContext, 'audience'>;
  nonces: ReturnType<typeof createDpopNonces> | undefined;
  /** The database's replay table when proofs are remembered there: pruned on the node's schedule. */
  sharedReplay: SharedReplayCache | undefined;
  close(): Promise<void>;
}

/** One short upsert per proof new to this node: a few connections keep up without a queue. */
const REPLAY_CONNECTIONS = 4;

export function createCallCheck(w: CallCheckWiring): CallCheckParts {
  const { config } = w;
  const seconds = (): number => w.now() / 1000;
  const shared = config.dpop.replayStore === 'database' || (config.dpop.replayStore === 'auto' && w.dialect === 'postgres');
  // Durable by default: each new proof's upsert waits for the WAL flush on the store's pool. Asked to, it goes to
  // connections of its own that do not wait (what a PostgreSQL crash can then cost is in docs/security.md).
  const own =
    shared && config.dpop.replayAsynchronousCommit && w.dedicated !== undefined
      ? w.dedicated({ connections: REPLAY_CONNECTIONS, asynchronousCommit: true })
      : undefined;
  const sharedReplay = shared
    ? new SharedReplayCache({ db: own ?? w.db, maxLocalEntries: config.dpop.replayCacheSize, now: seconds })
    : undefined;
  const localReplay = new InMemoryReplayCache({ maxEntries: config.dpop.replayCacheSize });
  // One replay set for every loop of this process's box, and on a shared database for every node.
  const replay = sharedReplay ?? w.siblings?.replayCache(localReplay) ?? localReplay;
  // Derived from the KEK, so every node that shares the KEK accepts every other node's nonces.
  const nonces = config.dpop.requireNonce
    ? createDpopNonces({ key: deriveKey(w.kek, 'dpop-nonce'), windowSeconds: config.dpop.nonceWindowSeconds, now: seconds })
    : undefined;
  const check: Omit<CheckCallContext, 'audience'> = {
    issuer: w.issuer,
    keys: w.keys,
    replay,
    revocations: w.revocations,
    // ~1.5 KB per entry: 20k tokens in flight is a busy node; past that, the oldest pay the signature check again.
    tokenCache: new VerifiedTokenCache({ maxEntries: 20_000 }),
    algorithms: DPOP_ALGS,
    maxAgeSeconds: config.dpop.proofMaxAgeSeconds,
    clockSkewSeconds: config.tokens.clockSkewSeconds,
    now: seconds,
    ...(nonces !== undefined ? { nonces } : {}),
  };
  return { check, nonces, sharedReplay, close: async () => own?.destroy() };
}
