/**
 * Every package's public surface, pinned: each `exports` subpath of every workspace package and the names each one
 * exports. A name or subpath added, removed or renamed fails here, so the surface changes only on purpose (and this
 * list with it). Imports go through the package names, so they resolve through the `exports` maps as a user's would.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PACKAGES = ['protocol', 'verify', 'agent', 'server', 'dev'] as const;

const SURFACE: Record<string, readonly string[]> = {
  '@writ/protocol': [
    'AUDIT_CHECKPOINT_KID_PREFIX',
    'AUTHORIZATION_DETAIL_TYPES',
    'BUDGET_DETAIL_TYPE',
    'BUDGET_LIMITS',
    'CLIENT_ASSERTION_TYPE_JWT_BEARER',
    'DEFAULT_PORT',
    'DPOP_ALGS',
    'ERROR_CODES',
    'GRANT_TYPE',
    'GRANT_TYPE_TOKEN_EXCHANGE',
    'HTTP_METHODS',
    'ID_JAG',
    'JWT_TYP',
    'NON_TOKEN_KID_PREFIXES',
    'OAUTH_TOKEN_ERRORS',
    'PATHS',
    'RESOURCE_ERRORS',
    'SET_KID_PREFIX',
    'TOKEN_SIGNING_ALGS',
    'TOKEN_TYPE',
    'UPSTREAM_ASSERTION_KID_PREFIX',
    'WritError',
    'accessDetails',
    'actorsOf',
    'budgetOf',
  ],
  '@writ/verify': [
    'MAX_PATH_LENGTH',
    'createWritVerifier',
    'denialResponse',
    'matchAuthorizationDetails',
    'matchMcpPromptGet',
    'matchMcpToolCall',
    'mcpPromptPermitted',
    'mcpResourcePermitted',
    'mcpToolPermitted',
    'normalizeRequestPath',
    'publicRequestUrl',
  ],
  '@writ/verify/fastify': ['writFastify'],
  '@writ/verify/express': ['writExpress'],
  '@writ/verify/hono': ['writHono'],
  '@writ/verify/internal': [
    'InMemoryReplayCache',
    'JWS_ALGS',
    'McpDetailError',
    'PathPatternError',
    'RemoteJwks',
    'ReplayCacheFullError',
    'RevocationFeed',
    'RevocationSet',
    'RevokedCredentialError',
    'VerifiedTokenCache',
    'asWritError',
    'canonicalMcpDetail',
    'canonicalPathPattern',
    'checkCall',
    'compilePathPattern',
    'createDpopNonces',
    'extractDpopToken',
    'fetchBounded',
    'headerValues',
    'importPublicJwk',
    'isCanonicalPath',
    'isLoopbackAddress',
    'isLoopbackHost',
    'isSubsetOf',
    'jwkThumbprint',
    'keyFitsAlg',
    'normalizeHtu',
    'parseCompactJws',
    'tokenKeysFromJwks',
    'verifyDpopProof',
    'verifyJwsSignature',
    'verifyTaskToken',
  ],
  '@writ/agent': [
    'TaskCompletionError',
    'TokenExchangeError',
    'WritAgent',
    'createActorAssertion',
    'createClientAssertion',
    'createDpopFetch',
    'createDpopProof',
    'createMcpFetch',
    'exchangeToken',
    'generateDpopKey',
    'parseWwwAuthenticate',
  ],
  '@writ/server': [
    'AdminClient',
    'AdminClientError',
    'ConfigError',
    'createLogger',
    'loadConfig',
    'printAuditChain',
    'silentLogger',
    'startWritServer',
  ],
  '@writ/server/policy': [
    'APPROVAL_ANNOTATION',
    'BUDGET_ANNOTATION',
    'BUDGET_KEYS',
    'PolicyEngineError',
    'TOOL_ACTION_PREFIX',
    'USER_ENTITY_CLAIMS',
    'WRIT_CEDAR_SCHEMA',
    'agentUid',
    'approverKey',
    'argumentTypeOf',
    'cedarArguments',
    'contextUseOf',
    'createCallDecisionCache',
    'createIssuanceDecisionCache',
    'createPolicyEngine',
    'delegateRequest',
    'httpRequest',
    'mcpPromptRequest',
    'mcpResourceRequest',
    'mcpToolRequest',
    'parseApprovers',
    'parseBudget',
    'parseToolActionId',
    'requestSubject',
    'resourceActionRequest',
    'resourceUid',
    'tightest',
    'toolActionId',
    'toolArgumentsRequest',
    'userAttrsOf',
    'userUid',
  ],
  '@writ/dev': [
    'ScriptedBrowser',
    'demoGrant',
    'demoMcpGrant',
    'runDev',
    'startDemoUpstream',
    'startDevIdentityProvider',
    'startUpstreamAuthorizationServer',
  ],
  '@writ/dev/kit': [
    'ScriptedMcpHost',
    'UPSTREAM_SECRET',
    'agentKeys',
    'authorizeAs',
    'freePort',
    'makeProofFactory',
    'mintTasks',
    'proofHeaders',
    'registerAgentKeys',
    'seedGrant',
    'seedWrit',
    'serveClientMetadataDocument',
    'serveMcpSessions',
    'startIdJagProvider',
    'writAgent',
  ],
};

interface Manifest {
  name: string;
  private?: boolean;
  exports: Record<string, { types: string; default: string }>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const manifests = PACKAGES.map((dir) => ({
  dir: join(ROOT, 'packages', dir),
  pkg: JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as Manifest,
}));
const specifier = (pkg: Manifest, subpath: string): string => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`);

test('every exports subpath of every package is pinned, and nothing else is', () => {
  const declared = manifests.flatMap(({ pkg }) => Object.keys(pkg.exports).map((sub) => specifier(pkg, sub)));
  assert.deepEqual(declared.sort(), Object.keys(SURFACE).sort());
});

test('each subpath exports exactly its pinned names', async () => {
  for (const [spec, names] of Object.entries(SURFACE)) {
    const mod = (await import(spec)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(mod).sort(), [...names].sort(), spec);
    for (const name of names) assert.notEqual(mod[name], undefined, `${spec} ${name}`);
  }
});

test('each subpath has its types and code built where the manifest says', () => {
  for (const { dir, pkg } of manifests) {
    for (const [sub, entry] of Object.entries(pkg.exports)) {
      assert.ok(existsSync(join(dir, entry.types)), `${specifier(pkg, sub)} types ${entry.types}`);
      assert.ok(existsSync(join(dir, entry.default)), `${specifier(pkg, sub)} code ${entry.default}`);
    }
  }
});

test('a module outside the exports map cannot be imported', async () => {
  for (const deep of ['@writ/server/dist/src/token/index.js', '@writ/verify/dist/src/internal.js', '@writ/dev/dist/src/kit/index.js']) {
    await assert.rejects(import(deep), (err: NodeJS.ErrnoException) => err.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED', deep);
  }
});

test('@writ/dev is private: tooling for this repository, never published', () => {
  const dev = manifests.find(({ pkg }) => pkg.name === '@writ/dev');
  assert.equal(dev?.pkg.private, true);
  for (const { pkg } of manifests) if (pkg.name !== '@writ/dev') assert.notEqual(pkg.private, true, pkg.name);
});

/**
 * The packages a built package's code loads — static imports, literal dynamic imports and `require.resolve` of a
 * package file it runs (a server process Writ starts) — by package name.
 */
function importedPackages(dir: string): Set<string> {
  const found = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/(?:from |import\(|resolve\()'([^'./][^']*)'/g)) {
          const spec = m[1] as string;
          if (spec.startsWith('node:')) continue;
          const parts = spec.split('/');
          found.add(spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string));
        }
      }
    }
  };
  walk(join(dir, 'dist', 'src'));
  return found;
}

test('a package depends at run time on exactly what its code imports', () => {
  for (const { dir, pkg } of manifests) {
    const imported = importedPackages(dir);
    imported.delete(pkg.name);
    const runtime = Object.keys(pkg.dependencies ?? {});
    const allowed = new Set([...runtime, ...Object.keys(pkg.peerDependencies ?? {})]);
    for (const name of imported) assert.ok(allowed.has(name), `${pkg.name} imports ${name} but does not depend on it`);
    for (const name of runtime) assert.ok(imported.has(name), `${pkg.name} depends on ${name} but nothing imports it`);
  }
});
