/**
 * One Writ node as its own process, started with `startWritServer` from configuration overrides (so `cluster.role`
 * and the other cluster keys go through `loadConfig` exactly as `writ serve` would take them). A configuration the
 * server rejects (e.g. `cluster.*` before cluster mode exists) is reported as `failed`, not thrown.
 */
import { loadConfig, silentLogger, startWritServer } from '@writ/server';
import { serveChild } from './child-process.js';

export interface WritNodeSetup {
  env: Record<string, string>;
  overrides: Record<string, unknown>;
}

export interface WritNodeReady {
  url: string;
  publicUrl: string;
  /** From the call to `startWritServer` until it resolved: opening the store and `RevocationService.load()`. */
  startMs: number;
}

serveChild<WritNodeSetup, WritNodeReady>(async (setup) => {
  const config = loadConfig({
    file: null,
    env: setup.env,
    overrides: { 'log.level': 'silent', 'egress.allow': ['127.0.0.0/8'], ...setup.overrides },
  });
  const t0 = performance.now();
  const writ = await startWritServer({ config, logger: silentLogger() });
  const startMs = performance.now() - t0;
  return {
    ready: { url: writ.url, publicUrl: writ.publicUrl, startMs },
    entries: () => writ.revocations.set.size,
    close: () => writ.close(),
  };
});
