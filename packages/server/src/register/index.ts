export { Register } from './register.js';
export type { Agent, Resource, IdentityProvider, Grant, InjectionRule, RegisterChange, RegisterDeps } from './register.js';
export {
  agentInput,
  agentStatusInput,
  identityProviderInput,
  resourceInput,
  grantInput,
  secretInput,
  injectionInput,
  jwksInput,
} from './inputs.js';
export type { AgentInput, IdentityProviderInput, ResourceInput, GrantInput } from './inputs.js';
export { registerId, randomId } from './ids.js';
export type { PolicyPort, AuditPort, AuditRecord, Clock } from './ports.js';
