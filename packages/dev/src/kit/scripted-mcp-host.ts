/**
 * A stock MCP host, scripted (tests and `writ dev`): the MCP SDK's own OAuth client (`OAuthClientProvider`, `auth()` through the
 * Streamable HTTP transport), with the person scripted (`authorizeAs`): it discovers Writ from the resource's 401,
 * registers (a metadata document, or Dynamic Client Registration), sends the person through sign-in and consent,
 * redeems the code and keeps the tokens, refreshing them as the SDK does.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { authorizeAs, type ConsentingUser, type ConsentOptions } from './consenting-user.js';

export class ScriptedMcpHost implements OAuthClientProvider {
  readonly #redirect: string;
  /** Present only for a host that publishes a metadata document (the SDK then uses it as its client_id). */
  declare readonly clientMetadataUrl?: string;
  readonly #user: ConsentingUser;
  readonly #consent: Omit<ConsentOptions, 'redirectUri'>;
  client: OAuthClientInformationMixed | undefined;
  tokenSet: OAuthTokens | undefined;
  #verifier = '';
  /** The last authorization's redirect back (code or error) and what the consent page offered. */
  lastRedirect: URL | undefined;
  offered: string[] = [];

  constructor(o: { redirectUri: string; clientMetadataUrl?: string; user: ConsentingUser; consent?: Omit<ConsentOptions, 'redirectUri'> }) {
    this.#redirect = o.redirectUri;
    if (o.clientMetadataUrl !== undefined) Object.defineProperty(this, 'clientMetadataUrl', { value: o.clientMetadataUrl });
    this.#user = o.user;
    this.#consent = o.consent ?? {};
  }

  get redirectUrl(): string {
    return this.#redirect;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Scripted MCP host',
      redirect_uris: [this.#redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.client = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.tokenSet;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.tokenSet = tokens;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    const r = await authorizeAs(url.href, this.#user, { ...this.#consent, redirectUri: this.#redirect });
    this.lastRedirect = r.url;
    this.offered = r.offered;
  }

  saveCodeVerifier(v: string): void {
    this.#verifier = v;
  }

  codeVerifier(): string {
    return this.#verifier;
  }

  /** Connects to `url`, going through the authorization flow when the server asks for it. */
  async connect(url: string): Promise<Client> {
    const attempt = async (): Promise<Client> => {
      const client = new Client({ name: 'scripted-host', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: this }));
      return client;
    };
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err;
      const code = this.lastRedirect?.searchParams.get('code');
      if (code === null || code === undefined)
        throw new Error(`authorization ended without a code: ${this.lastRedirect?.href ?? 'no redirect'}`);
      const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: this });
      await transport.finishAuth(code);
      return attempt();
    }
  }
}
