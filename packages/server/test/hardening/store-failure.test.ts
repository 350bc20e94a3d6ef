/**
 * The store failing under a request is not the request's fault and not a bug: PostgreSQL going away (every
 * connection reset, new ones refused — through a TCP proxy between Writ and the database) makes the token endpoint
 * answer 503 `temporarily_unavailable` and the admin API 503 `ERR_NOT_READY`, both with `Retry-After`, never 500; the
 * refused request is still refused. When the database is back and the node has confirmed its revocation state again,
 * the same requests succeed without a restart.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';

import { openStore } from '../../src/storage/index.js';
import { TEST_DATABASE_URL, type StoreKind } from '../helpers/stores.js';
import { postAgentExchange, startHarness, type Harness, type TestAgent } from '../helpers/writ-harness.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

import { eventually } from '../helpers/eventually.js';

const skip = TEST_DATABASE_URL === undefined ? 'WRIT_TEST_DATABASE_URL not set: PostgreSQL skipped' : false;

describe('the store fails under a request [postgres]', { skip }, () => {
  let proxy: TcpProxy;
  let h: Harness;
  let agent: TestAgent;
  before(async () => {
    const direct = new URL(TEST_DATABASE_URL as string);
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const viaProxy = new URL(direct);
    viaProxy.port = String(proxy.port);
    const pgSchema = `writ_test_${randomBytes(6).toString('hex')}`;
    const kind: StoreKind = {
      name: 'postgres',
      async open() {
        const store = await openStore({ databaseUrl: viaProxy.toString(), pgSchema, pgPoolSize: 4 });
        return Object.assign(store, {
          reopenOptions: { databaseUrl: viaProxy.toString(), pgSchema },
          async dispose() {
            await store.close();
            const c = new pg.Client({ connectionString: direct.toString() });
            await c.connect();
            await c.query(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
            await c.end();
          },
        });
      },
    };
    h = await startHarness(kind);
    agent = await h.registerAgent('agent-a');
  });
  after(async () => {
    proxy?.refuse(false);
    await h?.close();
    await proxy?.close();
  });

  const exchange = (): ReturnType<typeof postAgentExchange> => postAgentExchange(h, agent);

  test('database down: 503 with Retry-After from the token endpoint and the admin API; back up: served again', async () => {
    assert.equal((await exchange()).status, 200, 'before');
    await h.userToken('alice'); // cached before the database goes away

    proxy.refuse(true);
    proxy.cut();
    const refused = await exchange();
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body['error'], 'temporarily_unavailable');
    assert.equal(refused.headers.get('retry-after'), '1');

    const admin = await fetch(`${h.writ.url}/admin/v1/tasks`, { headers: { authorization: `Bearer ${h.adminToken}` } });
    assert.equal(admin.status, 503);
    assert.equal(admin.headers.get('retry-after'), '1');
    const body = (await admin.json()) as { code: string; message: string };
    assert.equal(body.code, 'ERR_NOT_READY');
    assert.doesNotMatch(JSON.stringify(body), /\n\s+at |ECONN|\.js:\d+/);

    proxy.refuse(false);
    // The node refuses until it has confirmed its revocation state again (fail closed), then serves.
    await eventually(async () => (await fetch(`${h.writ.url}/readyz`)).status === 200, 'readiness after the database returned');
    const again = await exchange();
    assert.equal(again.status, 200, `after: ${JSON.stringify(again.body)}`);
    assert.equal((await fetch(`${h.writ.url}/admin/v1/tasks`, { headers: { authorization: `Bearer ${h.adminToken}` } })).status, 200);
  });
});
