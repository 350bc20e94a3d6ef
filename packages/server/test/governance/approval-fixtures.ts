/** Approvals on a test store, without a server: the store's audit writer, a clock the test moves, a KEK ring. */
import assert from 'node:assert/strict';
import { WritError } from '@writ/protocol';
import { Approvals, type ApprovalView } from '../../src/approvals/index.js';
import { KeyEncryptionKey, KeyRing } from '../../src/crypto/index.js';
import type { TestStore } from '../helpers/stores.js';
import type { AuditWriter } from '../../src/audit/index.js';

export function approvalsOn(
  store: TestStore,
  audit: AuditWriter,
  o: { now: () => number; keys?: KeyRing; notify?: (a: ApprovalView) => void },
): Approvals {
  return new Approvals({
    db: store.db,
    audit,
    now: o.now,
    publicUrl: 'http://127.0.0.1:1',
    pendingSeconds: 60,
    approvedSeconds: 60,
    ownerOf: () => Promise.resolve(undefined),
    keys: o.keys ?? new KeyRing(KeyEncryptionKey.generate()),
    ...(o.notify !== undefined ? { notify: o.notify } : {}),
  });
}

/** The approval id a hold was told to wait for. */
export async function heldFor(p: Promise<string>): Promise<string> {
  const err: unknown = await p.then(
    () => assert.fail('the call went through without an approval'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WritError && err.code === 'ERR_APPROVAL_REQUIRED', String(err));
  return String(err.hint?.approval_id);
}
