/**
 * The upstream side of the MCP gateway: one connection per agent session to an upstream MCP server, and the
 * supervised processes that local upstreams run in. Explicit exports only; everything else here is internal.
 */
export { UpstreamError, type JsonRpcMessage, type UpstreamConnection, type UpstreamSendContext } from './upstream-connection.js';
export {
  SupervisedProcess,
  DEFAULT_BACKOFF,
  SYSTEM_CLOCK,
  minimalEnv,
  type BackoffOptions,
  type SupervisedExit,
  type SupervisedProcessEvents,
  type SupervisedProcessOptions,
  type SupervisedRestart,
  type SupervisedStart,
  type SupervisorClock,
} from './supervised-process.js';
export { StdioUpstream, UPSTREAM_RESTARTED_CODE, type StdioUpstreamOptions } from './stdio-upstream.js';
export {
  LoopbackHttpProcess,
  LOOPBACK_PRELOAD_URL,
  freeLoopbackPort,
  type LoopbackHttpProcessEvents,
  type LoopbackHttpProcessOptions,
  type LoopbackReady,
} from './loopback-http-process.js';
export { loopbackListenArgs, LOOPBACK_HOST } from './loopback-listen-args.js';
