/** Builders for the Writ Cedar requests, so every caller spells entities and context the same way. */
import type { CedarEntity, CedarRequest, CedarValue, EntityRef } from './types.js';

export interface AgentAttrs {
  id: string;
  name: string;
  owner: string;
  kind: string;
  status: string;
}
export interface ResourceAttrs {
  id: string;
  kind: string;
  name: string;
}
export interface UserAttrs {
  idp: string;
  sub: string;
  email?: string;
}

export function userUid(idp: string, sub: string): EntityRef {
  return { type: 'Writ::User', id: `${idp}:${sub}` };
}
export function agentUid(id: string): EntityRef {
  return { type: 'Writ::Agent', id };
}
export function resourceUid(id: string): EntityRef {
  return { type: 'Writ::Resource', id };
}

function entity(uid: EntityRef, attrs: Record<string, CedarValue>): CedarEntity {
  return { uid, attrs, parents: [] };
}

function agentEntity(a: AgentAttrs): CedarEntity {
  return entity(agentUid(a.id), { name: a.name, owner: a.owner, kind: a.kind, status: a.status });
}
function userEntity(u: UserAttrs): CedarEntity {
  return entity(userUid(u.idp, u.sub), { idp: u.idp, sub: u.sub, ...(u.email !== undefined ? { email: u.email } : {}) });
}
function resourceEntity(r: ResourceAttrs): CedarEntity {
  return entity(resourceUid(r.id), { kind: r.kind, name: r.name });
}

/**
 * Action `http`: an HTTP call (method, path) on a resource.
 *
 * @example
 * httpRequest({ agent, user: { idp: 'dev', sub: 'alice' }, resource: { id: 'api', kind: 'http', name: 'api' }, method: 'GET', path: '/v1/projects/*', purpose, depth: 0 });
 */
export function httpRequest(input: {
  agent: AgentAttrs;
  user: UserAttrs;
  resource: ResourceAttrs;
  method: string;
  path: string;
  purpose: string;
  depth: number;
}): CedarRequest {
  return onResource('http', input, { method: input.method, path: input.path });
}

/**
 * Action `mcp_tool`: a tool of an MCP resource. At issuance `tool` is the requested pattern as written.
 *
 * @example
 * mcpToolRequest({ agent, user: { idp: 'dev', sub: 'alice' }, resource: { id: 'files', kind: 'mcp', name: 'files' }, tool: 'read*', purpose, depth: 0 });
 */
export function mcpToolRequest(input: {
  agent: AgentAttrs;
  user: UserAttrs;
  resource: ResourceAttrs;
  tool: string;
  purpose: string;
  depth: number;
}): CedarRequest {
  return onResource('mcp_tool', input, { tool: input.tool });
}

/**
 * Action `mcp_resource`: reading (or subscribing to) a resource URI of an MCP resource. At issuance `uri` is the
 * requested pattern as written (`file:///srv/reports/*`); at call time the concrete URI.
 */
export function mcpResourceRequest(input: {
  agent: AgentAttrs;
  user: UserAttrs;
  resource: ResourceAttrs;
  uri: string;
  purpose: string;
  depth: number;
}): CedarRequest {
  return onResource('mcp_resource', input, { uri: input.uri });
}

/** Action `mcp_prompt`: getting a prompt of an MCP resource. At issuance `prompt` is the requested pattern. */
export function mcpPromptRequest(input: {
  agent: AgentAttrs;
  user: UserAttrs;
  resource: ResourceAttrs;
  prompt: string;
  purpose: string;
  depth: number;
}): CedarRequest {
  return onResource('mcp_prompt', input, { prompt: input.prompt });
}

/** An agent acting on a resource for a user: the shape every resource action shares; `extra` is the action's own context. */
function onResource(
  action: 'http' | 'mcp_tool' | 'mcp_resource' | 'mcp_prompt',
  input: { agent: AgentAttrs; user: UserAttrs; resource: ResourceAttrs; purpose: string; depth: number },
  extra: Record<string, CedarValue>,
): CedarRequest {
  return {
    principal: agentUid(input.agent.id),
    action: { type: 'Writ::Action', id: action },
    resource: resourceUid(input.resource.id),
    context: { user: { __entity: userUid(input.user.idp, input.user.sub) }, ...extra, purpose: input.purpose, depth: input.depth },
    entities: [agentEntity(input.agent), resourceEntity(input.resource), userEntity(input.user)],
  };
}

/**
 * Action `delegate`: may the parent agent hand work for this user to the child agent, `depth` levels below the root
 * task? Principal is the parent, resource the child; both are in the entities (once, when they are the same agent).
 *
 * @example
 * delegateRequest({ parent: planner, child: researcher, user: { idp: 'dev', sub: 'alice' }, depth: 1 });
 */
export function delegateRequest(input: { parent: AgentAttrs; child: AgentAttrs; user: UserAttrs; depth: number }): CedarRequest {
  const user = userUid(input.user.idp, input.user.sub);
  return {
    principal: agentUid(input.parent.id),
    action: { type: 'Writ::Action', id: 'delegate' },
    resource: agentUid(input.child.id),
    context: { user: { __entity: user }, depth: input.depth },
    entities: [
      agentEntity(input.parent),
      ...(input.child.id !== input.parent.id ? [agentEntity(input.child)] : []),
      userEntity(input.user),
    ],
  };
}
