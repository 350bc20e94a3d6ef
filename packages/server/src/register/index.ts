export { Register } from './register.js';
export type {
  Agent,
  Resource,
  McpResourceConfig,
  McpUpstreamConfig,
  IdentityProvider,
  WorkloadIssuer,
  WorkloadBinding,
  Grant,
  InjectionRule,
  RegisterChange,
} from './entities.js';
export type { RegisterDeps } from './register.js';
export {
  agentInput,
  agentStatusInput,
  agentUpdateInput,
  instantInput,
  identityProviderInput,
  workloadIssuerInput,
  workloadBindingInput,
  resourceInput,
  mcpConfigInput,
  grantInput,
  grantModeInput,
  injectionInput,
  jwksInput,
} from './inputs.js';
export type { AgentInput, IdentityProviderInput, WorkloadIssuerInput, ResourceInput, GrantInput } from './inputs.js';
export type { PolicyPort } from './ports.js';
export { resourcePrefix, resourceUri, resourceMetadataUrl } from './resource-uri.js';
export { RegisterSnapshot } from './register-snapshot.js';
export { AgentLifecycle } from './agent-lifecycle.js';
export type { AgentLifecycleDeps, OwnerOffboardedAction, ReviewItem, ReviewReason } from './agent-lifecycle.js';
export { agentRefusal } from './agent-standing.js';
export type { AgentRefusal } from './agent-standing.js';
