/** Builders for the Writ Cedar requests, so every caller spells entities and context the same way. */
import type { CedarEntity, CedarRequest, CedarValue, EntityRef } from './types.js';
import { toolActionId } from './tool-arguments.js';

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
 * The claims of a user's token that become attributes of the user entity. A task token carries the same claims
 * (mint-task-token.ts), so the user entity is the same at issuance and at every call.
 */
export const USER_ENTITY_CLAIMS = ['email'] as const;

/** A token's claims as far as the user entity reads them: a user's token and a task token both fit. */
export type UserEntityClaims = { readonly [K in (typeof USER_ENTITY_CLAIMS)[number]]?: unknown } | Readonly<Record<string, unknown>>;

/** Who acts for whom on which resource, with why and how deep: what every resource action shares. */
export interface RequestSubject {
  agent: AgentAttrs;
  user: UserAttrs;
  resource: ResourceAttrs;
  purpose: string;
  depth: number;
}

/**
 * The one builder of a request's subject, at issuance and at call time alike. `userClaims` is the user's token at
 * issuance and the task token at a call: both carry USER_ENTITY_CLAIMS the same way.
 *
 * @example
 * const subject = requestSubject({ agent, userId: claims.sub, userClaims: claims, resource, purpose: claims.purpose ?? '', depth: claims.task_chain.length });
 * const request = resourceActionRequest(subject, { action: 'mcp_tool', tool: 'search' });
 */
export function requestSubject(input: {
  agent: AgentAttrs;
  /** `<identity provider id>:<subject>`; provider ids never contain ':'. */
  userId: string;
  userClaims: UserEntityClaims;
  resource: { id: string; kind: string };
  purpose: string;
  depth: number;
}): RequestSubject {
  const a = input.agent;
  return {
    agent: { id: a.id, name: a.name, owner: a.owner, kind: a.kind, status: a.status },
    user: userAttrsOf(input.userId, input.userClaims),
    resource: { id: input.resource.id, kind: input.resource.kind, name: input.resource.id },
    purpose: input.purpose,
    depth: input.depth,
  };
}

/** The user entity's attributes from a Writ user id (`<provider id>:<subject>`) and the claims it was verified with. */
export function userAttrsOf(userId: string, claims: UserEntityClaims): UserAttrs {
  const i = userId.indexOf(':');
  const email = (claims as Readonly<Record<string, unknown>>)['email'];
  return { idp: userId.slice(0, i), sub: userId.slice(i + 1), ...(typeof email === 'string' ? { email } : {}) };
}

/**
 * What is asked of a resource: an HTTP call (method, path), an MCP tool, resource URI or prompt. At issuance each
 * value is the requested pattern as written (`/v1/projects/*`, `read*`); at call time the concrete one.
 */
export type ResourceAction =
  | { action: 'http'; method: string; path: string }
  | { action: 'mcp_tool'; tool: string }
  | { action: 'mcp_resource'; uri: string }
  | { action: 'mcp_prompt'; prompt: string };

/** The Cedar request for one resource action: principal the agent, resource the resource, context the rest. */
export function resourceActionRequest(subject: RequestSubject, target: ResourceAction): CedarRequest {
  const { action, ...extra } = target;
  return {
    principal: agentUid(subject.agent.id),
    action: { type: 'Writ::Action', id: action },
    resource: resourceUid(subject.resource.id),
    context: { user: { __entity: userUid(subject.user.idp, subject.user.sub) }, ...extra, purpose: subject.purpose, depth: subject.depth },
    entities: [agentEntity(subject.agent), resourceEntity(subject.resource), userEntity(subject.user)],
  };
}

/**
 * Action `http` (a shorthand of resourceActionRequest, for tests and benchmarks).
 *
 * @example
 * httpRequest({ agent, user: { idp: 'dev', sub: 'alice' }, resource: { id: 'api', kind: 'http', name: 'api' }, method: 'GET', path: '/v1/projects/*', purpose, depth: 0 });
 */
export function httpRequest(input: RequestSubject & { method: string; path: string }): CedarRequest {
  return resourceActionRequest(input, { action: 'http', method: input.method, path: input.path });
}

/**
 * A tool's own action (`mcp_tool:<resource>/<tool>`, tool-arguments.ts), asked at a call after `mcp_tool` allowed
 * it: the same context with the call's `arguments`, already read through the tool's argument type.
 */
export function toolArgumentsRequest(subject: RequestSubject, tool: string, args: Record<string, CedarValue>): CedarRequest {
  const request = resourceActionRequest(subject, { action: 'mcp_tool', tool });
  return {
    ...request,
    action: { type: 'Writ::Action', id: toolActionId(subject.resource.id, tool) },
    context: { ...request.context, arguments: args },
  };
}

/** Action `mcp_tool` (a shorthand of resourceActionRequest). */
export function mcpToolRequest(input: RequestSubject & { tool: string }): CedarRequest {
  return resourceActionRequest(input, { action: 'mcp_tool', tool: input.tool });
}

/** Action `mcp_resource` (a shorthand of resourceActionRequest). */
export function mcpResourceRequest(input: RequestSubject & { uri: string }): CedarRequest {
  return resourceActionRequest(input, { action: 'mcp_resource', uri: input.uri });
}

/** Action `mcp_prompt` (a shorthand of resourceActionRequest). */
export function mcpPromptRequest(input: RequestSubject & { prompt: string }): CedarRequest {
  return resourceActionRequest(input, { action: 'mcp_prompt', prompt: input.prompt });
}

/**
 * Action `delegate`: may the parent agent hand work for this user to the child agent, `depth` levels below the root
 * task? Principal is the parent, resource the child; both are in the entities (once, when they are the same agent).
 *
 * @example
 * delegateRequest({ parent: planner, child: researcher, user: userAttrsOf(parent.sub, parent), depth: 1 });
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
