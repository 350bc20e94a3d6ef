/**
 * bench/policy-decision — what a call-time grant decision costs: a full Cedar evaluation in the policy worker
 * (one request per message, awaited one at a time: what a per-call evaluation would cost) against a hit in the
 * call-decision cache (what the gateway pays on repeated calls), side by side in one run.
 *
 *   npm run bench:policy
 */
import { createCallDecisionCache, createPolicyEngine, httpRequest } from '@writ/server/policy';

const GRANTS = Array.from({ length: 11 }, (_, i) => ({
  id: `g${i}`,
  text: `permit (principal == Writ::Agent::"agent-${i}", action == Writ::Action::"http", resource == Writ::Resource::"api") when { context.user == Writ::User::"dev:alice" && ["GET", "HEAD"].contains(context.method) && context.path like "/v1/projects*" };`,
}));

function request(path: string): ReturnType<typeof httpRequest> {
  return httpRequest({
    agent: { id: 'agent-3', name: 'a', owner: 'o', kind: 'agent', status: 'active' },
    user: { idp: 'dev', sub: 'alice' },
    resource: { id: 'api', kind: 'http', name: 'api' },
    method: 'GET',
    path,
    purpose: '',
    depth: 0,
  });
}

async function main(): Promise<void> {
  const engine = createPolicyEngine();
  await engine.load(GRANTS);
  const cache = createCallDecisionCache(engine);
  const N = 5000;
  for (let i = 0; i < 500; i++) await engine.authorize([request(`/v1/projects/${i}`)]);
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await engine.authorize([request(`/v1/projects/${i}`)]);
  const full = Number(process.hrtime.bigint() - t0) / N / 1000;
  const req = request('/v1/projects/1');
  await cache.decide(req, '1');
  for (let i = 0; i < 10_000; i++) void cache.decide(request('/v1/projects/1'), '1');
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N * 20; i++) {
    const d = cache.decide(request('/v1/projects/1'), '1');
    if (d instanceof Promise) throw new Error('expected a hit');
  }
  const hit = Number(process.hrtime.bigint() - t0) / (N * 20) / 1000;
  console.log(`bench/policy-decision — node ${process.version}, 11 policies`);
  console.log(
    `| path | µs per decision |\n|---|---|\n| full Cedar evaluation in the worker (round trip, awaited) | ${full.toFixed(1)} |\n| call-decision cache hit (incl. building the request) | ${hit.toFixed(2)} |`,
  );
  console.log(`ratio: a hit costs ${((hit / full) * 100).toFixed(1)}% of an evaluation`);
  await engine.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
