/**
 * A resource and the grants that put conditions on its tools' arguments, written at the same moment: the grant's
 * transaction holds the resources it names, so a deletion between the grant's validation and its commit makes the
 * grant fail instead of leaving a grant that names tools with no recorded schema (which would fail the whole policy
 * set's load). Deterministic: the deletion runs inside the upstream's tool listing, which is exactly that moment.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdminError } from '../../src/errors/index.js';
import { createPolicyEngine, type PolicyEngine } from '../../src/policy/index.js';
import { Register } from '../../src/register/index.js';
import { describeEachStore, type TestStore } from '../helpers/stores.js';

const TRANSFER = {
  name: 'transfer',
  inputSchema: { type: 'object', properties: { amount: { type: 'integer' } }, required: ['amount'] },
};
const LIMIT = `forbid (principal, action == Writ::Action::"mcp_tool:pay/transfer", resource) unless { context.arguments.amount <= 5 };`;

describeEachStore('deleting a resource while a grant names its tools', (kind) => {
  let store: TestStore;
  let policy: PolicyEngine;
  let register: Register;
  let duringListing: (() => Promise<void>) | undefined;
  let duringGrantCheck: (() => Promise<void>) | undefined;

  before(async () => {
    store = await kind.open();
    policy = createPolicyEngine();
    // The real engine, with a moment to act in while the register asks it which tools a grant names.
    const asked = {
      validate: policy.validate.bind(policy),
      load: policy.load.bind(policy),
      toolActions: async (text: string) => {
        await duringGrantCheck?.();
        return policy.toolActions(text);
      },
    };
    register = new Register({ db: store.db, policy: asked, audit: { record: () => undefined } });
    register.useToolLister(async () => {
      await duringListing?.();
      return [TRANSFER];
    });
  });
  after(async () => {
    await policy?.close();
    await store?.dispose();
  });

  test('a resource deleted while the grant is validated: the grant is refused and nothing of it is stored', async () => {
    await register.createResource({ id: 'pay', kind: 'mcp', baseUrl: 'https://pay.example/mcp' }, 'admin');
    // Straight to the store, as another node would: this node's register is in the middle of the grant.
    duringListing = async () => {
      await store.db.deleteFrom('resources').where('id', '=', 'pay').execute();
    };
    try {
      await assert.rejects(register.createGrant({ id: 'pay-limit', policy: LIMIT }, 'admin'), (err: unknown) => {
        assert.ok(err instanceof AdminError, String(err));
        assert.equal(err.code, 'ERR_ADMIN_POLICY_INVALID');
        assert.match(err.details.join('\n'), /"pay" is not a registered MCP resource/);
        return true;
      });
    } finally {
      duringListing = undefined;
    }
    assert.deepEqual(await store.db.selectFrom('grants').select('id').execute(), []);
    assert.deepEqual(await store.db.selectFrom('tool_schemas').select('tool').execute(), []);
  });

  test('with the resource in place the same grant is stored, and the resource is then refused deletion until it goes', async () => {
    await register.createResource({ id: 'pay', kind: 'mcp', baseUrl: 'https://pay.example/mcp' }, 'admin');
    await register.createGrant({ id: 'pay-limit', policy: LIMIT }, 'admin');
    await assert.rejects(
      register.deleteResource('pay', 'admin'),
      (err: unknown) => err instanceof AdminError && err.code === 'ERR_ADMIN_CONFLICT',
    );
    assert.equal((await register.getResource('pay')).id, 'pay');
    await register.deleteGrant('pay-limit', 'admin');
    await register.deleteResource('pay', 'admin');
    assert.deepEqual(await store.db.selectFrom('tool_schemas').select('tool').execute(), []);
    await assert.rejects(
      register.deleteResource('pay', 'admin'),
      (err: unknown) => err instanceof AdminError && err.code === 'ERR_ADMIN_NOT_FOUND',
    );
  });

  test("a grant stored between the deletion's check and its transaction is seen, and the deletion refused", async () => {
    await register.createResource({ id: 'pay', kind: 'mcp', baseUrl: 'https://pay.example/mcp' }, 'admin');
    await register.createGrant(
      { id: 'pay-tools', policy: 'permit (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"pay");' },
      'admin',
    );
    // Another node's grant lands while this one checks the grants it read.
    duringGrantCheck = async () => {
      duringGrantCheck = undefined;
      await store.db
        .insertInto('grants')
        .values({ id: 'pay-limit', description: '', policy: LIMIT, enabled: 1, mode: 'enforce', created_at: 1, updated_at: 1 })
        .execute();
    };
    await assert.rejects(register.deleteResource('pay', 'admin'), (err: unknown) => {
      assert.ok(err instanceof AdminError, String(err));
      assert.equal(err.code, 'ERR_ADMIN_CONFLICT');
      assert.match(err.message, /pay-limit/);
      return true;
    });
    assert.equal((await register.getResource('pay')).id, 'pay');
  });
});
