/** The package's public surface is deliberate: this list changes only on purpose. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as verify from '../src/index.js';

test('@writ/verify exports exactly its public API', () => {
  assert.deepEqual(Object.keys(verify).sort(), [
    'InMemoryReplayCache',
    'JWS_ALGS',
    'MAX_PATH_LENGTH',
    'McpDetailError',
    'PathPatternError',
    'RemoteJwks',
    'ReplayCacheFullError',
    'RevocationFeed',
    'RevocationSet',
    'VerifiedTokenCache',
    'canonicalMcpDetail',
    'canonicalPathPattern',
    'checkCall',
    'compilePathPattern',
    'createDpopNonces',
    'createWritVerifier',
    'denialResponse',
    'extractDpopToken',
    'importPublicJwk',
    'isCanonicalPath',
    'isSubsetOf',
    'jwkThumbprint',
    'keyFitsAlg',
    'matchAuthorizationDetails',
    'matchMcpPromptGet',
    'matchMcpToolCall',
    'mcpPromptPermitted',
    'mcpResourcePermitted',
    'mcpToolPermitted',
    'normalizeHtu',
    'normalizeRequestPath',
    'parseCompactJws',
    'publicRequestUrl',
    'tokenKeysFromJwks',
    'verifyDpopProof',
    'verifyJwsSignature',
    'verifyTaskToken',
  ]);
});
