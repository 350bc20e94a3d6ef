/** What the authorization server is configured with (`authorization` in writ.yaml; config/ validates it). */
export interface AuthorizationSettings {
  login: { provider?: string | undefined; clientId?: string | undefined; clientSecret?: string | undefined; scope: string };
  sessionSeconds: number;
  codeLifetimeSeconds: number;
  accessTokenLifetimeSeconds: number;
  taskLifetimeSeconds: number;
  rememberConsentDays: number;
  registration: {
    mode: 'open' | 'token' | 'closed';
    initialAccessToken?: string | undefined;
    newClientStatus: 'active' | 'pending';
    owner: string;
  };
  metadataDocuments: { enabled: boolean; maxBytes: number; timeoutMs: number; cacheSeconds: number; caFile?: string | undefined };
}
