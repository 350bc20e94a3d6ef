/**
 * The revocation feed for verifiers, on every store: catch-up from the durable log after the client's last sequence,
 * `ready` once current, live entries after, each exactly what RevocationSet.apply takes; resumable with
 * Last-Event-ID; closed to anyone without a feed (admin) token.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { RevocationSet, type RevocationEntry } from '@writ/verify/internal';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';

interface FeedEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** Reads a feed's events as they arrive; `until` resolves with everything read once the predicate holds. */
function openFeed(
  url: string,
  headers: Record<string, string>,
): { until(p: (events: FeedEvent[]) => boolean): Promise<FeedEvent[]>; close(): void; status: Promise<number> } {
  const abort = new AbortController();
  const events: FeedEvent[] = [];
  const waiters: { p: (e: FeedEvent[]) => boolean; resolve: (e: FeedEvent[]) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (!w.p(events)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve([...events]);
    }
  };
  const status = fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal }).then((res) => {
    if (res.body !== null && res.status === 200) {
      void (async () => {
        const decoder = new TextDecoder();
        let buf = '';
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buf += decoder.decode(chunk, { stream: true });
            let i: number;
            while ((i = buf.indexOf('\n\n')) !== -1) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const e: FeedEvent = { event: 'message', id: undefined, data: '' };
              let data = false;
              for (const line of block.split('\n')) {
                if (line.startsWith('event: ')) e.event = line.slice(7);
                else if (line.startsWith('id: ')) e.id = line.slice(4);
                else if (line.startsWith('data: ')) {
                  e.data = line.slice(6);
                  data = true;
                }
              }
              if (data) events.push(e);
            }
            check();
          }
        } catch {
          // aborted
        }
      })();
    } else void res.body?.cancel();
    return res.status;
  });
  return {
    until: (p) =>
      new Promise((resolve) => {
        waiters.push({ p, resolve });
        check();
      }),
    close: () => abort.abort(),
    status,
  };
}

describeEachStore('revocation feed', (kind) => {
  const h = useHarness(kind);
  let feedUrl: string;
  let auth: Record<string, string>;
  before(async () => {
    feedUrl = `${h.writ.url}/revocation/v1/events`;
    auth = { authorization: `Bearer ${h.adminToken}` };
  });

  test('only with a feed token', async () => {
    const none = await fetch(feedUrl);
    assert.equal(none.status, 401);
    await none.text();
    const wrong = await fetch(feedUrl, { headers: { authorization: 'Bearer not-an-admin-token-0123456789' } });
    assert.equal(wrong.status, 401);
    await wrong.text();
    const bad = await fetch(feedUrl, { headers: { ...auth, 'last-event-id': 'x1' } });
    assert.equal(bad.status, 400);
    await bad.text();
  });

  test('catch-up, ready, live, and resumption from Last-Event-ID; entries apply as the gateway applies them', async () => {
    const agent = await h.registerAgent(`feed-agent-${kind.name}`);
    const first = await h.admin.post<{ seq: number }>('/revocations', {
      target: { type: 'agent', agentId: agent.id },
      reason: 'feed test 1',
    });
    const feed = openFeed(feedUrl, auth);
    assert.equal(await feed.status, 200);
    const caught = await feed.until((es) => es.some((e) => e.event === 'ready'));
    const entries = caught.filter((e) => e.event === 'revocation').map((e) => JSON.parse(e.data) as RevocationEntry);
    const mine = entries.find((e) => e.seq === first.seq);
    assert.deepEqual(mine?.target, { type: 'agent', agentId: agent.id, before: mine?.target.type === 'agent' ? mine.target.before : -1 });
    const ready = JSON.parse(caught.find((e) => e.event === 'ready')?.data ?? '{}') as { lastSeq: number };
    assert.ok(ready.lastSeq >= first.seq);
    assert.deepEqual(
      caught.filter((e) => e.event === 'revocation').map((e) => Number(e.id)),
      entries.map((e) => e.seq),
      'id is the sequence',
    );

    const second = await h.admin.post<{ seq: number }>('/revocations', {
      target: { type: 'user', userId: 'dev:nobody' },
      reason: 'feed test 2',
    });
    const live = await feed.until((es) => es.some((e) => e.id === String(second.seq)));
    const liveEntry = JSON.parse(live.find((e) => e.id === String(second.seq))?.data ?? '{}') as RevocationEntry;
    const set = new RevocationSet();
    for (const e of [...entries, liveEntry]) set.apply(e);
    assert.equal(set.lastSeq, second.seq);
    feed.close();

    // A client that applied `first` resumes after it: it gets `second` (and anything later), never `first` again.
    const resumed = openFeed(feedUrl, { ...auth, 'last-event-id': String(first.seq) });
    const got = await resumed.until((es) => es.some((e) => e.event === 'ready'));
    const seqs = got.filter((e) => e.event === 'revocation').map((e) => Number(e.id));
    assert.ok(seqs.includes(second.seq));
    assert.ok(seqs.every((s) => s > first.seq));
    resumed.close();
  });
});
