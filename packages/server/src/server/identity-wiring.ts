/**
 * Who a token exchange can name as the person or the workload behind it (identity/): the user-token verifier over the
 * register's identity providers and the workload-token verifier over its trusted issuers, each with the keys it
 * fetched through the egress guard, and both forgetting what they hold when the register changes those lists.
 */
import type { Register } from '../register/index.js';
import {
  createUserTokenVerifier,
  createWorkloadTokenVerifier,
  type UserTokenVerifier,
  type WorkloadTokenVerifier,
} from '../identity/index.js';

export interface IdentityVerifiers {
  users: UserTokenVerifier;
  workloads: WorkloadTokenVerifier;
  /** Forget the providers, issuers and keys read so far (a change, or a cluster resync). */
  invalidate(): void;
}

export function createIdentityVerifiers(o: {
  register: Register;
  fetch: typeof fetch;
  clockSkewSeconds: number;
  now: () => number;
}): IdentityVerifiers {
  // Read on every exchange: kept until an identity provider changes (or the cluster resyncs).
  let providers: ReturnType<Register['listIdentityProviders']> | undefined;
  const users = createUserTokenVerifier({
    listProviders: () =>
      (providers ??= o.register.listIdentityProviders().catch((err: unknown) => {
        providers = undefined;
        throw err;
      })),
    fetch: o.fetch,
    clockSkewSeconds: o.clockSkewSeconds,
    now: o.now,
  });
  const workloads = createWorkloadTokenVerifier({
    listIssuers: () => o.register.listWorkloadIssuers(),
    fetch: o.fetch,
    clockSkewSeconds: o.clockSkewSeconds,
    now: o.now,
  });
  o.register.onChange((c) => {
    if (c.kind === 'identity_provider') {
      providers = undefined;
      users.invalidate();
    }
    if (c.kind === 'workload_issuer') workloads.invalidate();
  });
  return {
    users,
    workloads,
    invalidate() {
      providers = undefined;
      users.invalidate();
      workloads.invalidate();
    },
  };
}
