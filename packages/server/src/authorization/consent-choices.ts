/**
 * What a person may consent to: the tools of an MCP resource as its upstream lists them, or the scopes a resource
 * defines (those the client asked for, when it named any Writ knows), each kept only when the grants let this client
 * do it for this person — the same issuance-time evaluation a token exchange runs. Scope names Writ does not know
 * (`openid`, `offline_access`, a host's defaults) choose nothing and refuse nothing.
 */
import type { AuthorizationDetail } from '@writ/protocol';
import { OAuthError } from '../errors/index.js';
import type { Agent, Resource } from '../register/index.js';
import type { VerifiedUser } from '../identity/index.js';
import { evaluateIssuancePolicy, scopeDetails, type IssuancePolicy } from '../token/index.js';

export interface ConsentChoice {
  /** `tool:<name>` or `scope:<name>`: what the form sends back. */
  key: string;
  label: string;
  description: string;
  details: AuthorizationDetail[];
}

export interface ToolLister {
  tools(resource: Resource): Promise<Array<{ name: string; title: string; description: string }>>;
}

export interface ChoiceInput {
  agent: Agent;
  user: VerifiedUser;
  resource: Resource;
  resourceUri: string;
  /** The `scope` parameter as the client sent it ('' when none). */
  scope: string;
}

export async function consentChoices(
  input: ChoiceInput,
  deps: { catalogue: ToolLister; policy: IssuancePolicy },
): Promise<ConsentChoice[]> {
  const named = input.scope.split(' ').filter((s) => s !== '' && Object.hasOwn(input.resource.scopes, s));
  let candidates: ConsentChoice[];
  if (named.length > 0 || input.resource.kind === 'http') {
    const names = named.length > 0 ? named : Object.keys(input.resource.scopes);
    candidates = names.map((name) => ({
      key: `scope:${name}`,
      label: name,
      description: describeDetails(scopeDetails(input.resource, name, input.resourceUri)),
      details: scopeDetails(input.resource, name, input.resourceUri),
    }));
  } else {
    const tools = await deps.catalogue.tools(input.resource);
    candidates = tools
      .filter((t) => !t.name.includes('*'))
      .map((t) => ({
        key: `tool:${t.name}`,
        label: t.name,
        description: t.title !== '' && t.title !== t.name ? `${t.title}. ${t.description}` : t.description,
        details: [{ type: 'mcp', tools: [t.name] }],
      }));
  }
  const allowed = await Promise.all(candidates.map((c) => permitted(c.details, input, deps.policy)));
  return candidates.filter((_, i) => allowed[i]);
}

/** Whether the grants allow every part of `details` for this client, user and resource. */
async function permitted(details: AuthorizationDetail[], input: ChoiceInput, policy: IssuancePolicy): Promise<boolean> {
  try {
    const d = await evaluateIssuancePolicy(
      {
        agent: input.agent,
        user: input.user,
        resource: input.resource,
        resourceUri: input.resourceUri,
        requested: details,
        scopes: [],
        purpose: '',
        depth: 0,
      },
      policy,
    );
    return d.denied.length === 0;
  } catch (err) {
    if (err instanceof OAuthError) return false;
    throw err;
  }
}

function describeDetails(details: AuthorizationDetail[]): string {
  return details
    .map((d) => (d.type === 'http' ? `${d.actions.join(', ')} ${d.paths.join(', ')}` : `tools ${(d.tools ?? []).join(', ')}`))
    .join('; ');
}
