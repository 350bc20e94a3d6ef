/**
 * The overview's calls per minute on both stores: every minute of the window present, allowed and denied counted per
 * minute, minutes older than two counted once and kept (a later refresh counts only the recent ones).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OVERVIEW_ROUTES } from '../../src/admin-api/overview-routes.js';
import type { AdminServices } from '../../src/admin-api/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { callEvent, manualWriter } from '../audit/audit-fixtures.js';

const MINUTE = 60_000;

describeEachStore('overview', (kind) => {
  test('calls per minute: each minute of the window, settled minutes counted once', async () => {
    const store = await kind.open();
    try {
      const route = OVERVIEW_ROUTES.find((r) => r.url === '/overview');
      assert.ok(route !== undefined);
      // A fixed clock in the middle of a minute: the window does not move while the test runs.
      const now = (Math.floor(Date.now() / MINUTE) + 0.5) * MINUTE;
      const services = {
        now: () => now,
        db: store.db,
        flushAudit: async () => undefined,
        node: async () => ({ ready: true, checks: {} }),
        nodes: async () => null,
      } as unknown as AdminServices;
      const ask = async () =>
        (await route.handler({ params: {}, body: undefined, query: { minutes: 6 }, principal: undefined as never, services })) as {
          calls: Array<{ minute: number; allowed: number; denied: number }>;
        };
      const current = Math.floor(now / MINUTE);
      const at = (minutesAgo: number): number => (current - minutesAgo) * MINUTE + 1_000;
      const write = async (events: Array<[minutesAgo: number, allowed: boolean]>): Promise<void> => {
        const w = manualWriter(store);
        events.forEach(([ago, allowed], i) => w.record(callEvent(allowed ? 1 : 3, { time: at(ago), data: { i } })));
        await w.close();
      };
      await write([
        [4, true],
        [4, true],
        [4, false],
        [3, true],
        [0, false],
        [9, true], // outside the window
      ]);
      const first = await ask();
      assert.equal(first.calls.length, 6);
      assert.deepEqual(
        first.calls.map((c) => [c.minute / MINUTE - current, c.allowed, c.denied]),
        [
          [-5, 0, 0],
          [-4, 2, 1],
          [-3, 1, 0],
          [-2, 0, 0],
          [-1, 0, 0],
          [0, 0, 1],
        ],
      );
      // A record that reaches a settled minute later is not counted again; recent minutes are.
      await write([
        [4, true],
        [1, true],
        [0, true],
      ]);
      const second = await ask();
      assert.deepEqual(
        second.calls.map((c) => [c.minute / MINUTE - current, c.allowed, c.denied]),
        [
          [-5, 0, 0],
          [-4, 2, 1],
          [-3, 1, 0],
          [-2, 0, 0],
          [-1, 1, 0],
          [0, 1, 1],
        ],
      );
    } finally {
      await store.dispose();
    }
  });
});
