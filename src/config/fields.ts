/**
 * The profile fields as data: one list drives the config-file keys (camelCase and snake_case), the CLI flags
 * (kebab-case) and the environment variables (HPAUTH_ + upper snake case), so the three can never drift apart.
 */
import type { ProfileConfig } from "../engine/types.js";

export type FieldKind = "string" | "number" | "boolean" | "record" | "list";

export interface ProfileField {
  key: keyof ProfileConfig;
  kind: FieldKind;
  /** Secret values: masked by `profiles show`, warned against as flags, never written from a prompt unasked. */
  secret?: boolean;
  /**
   * Set in config files only: no global flag, no HPAUTH_* variable (the command that uses it has its own flags,
   * e.g. `hpauth proxy --allow` for `proxy_allow`).
   */
  fileOnly?: boolean;
  description: string;
}

export const PROFILE_FIELDS: readonly ProfileField[] = [
  {
    key: "provider",
    kind: "string",
    description:
      "techpulse | wxp | greenlake | aruba-central | hpe-identity | greenlake-platform | new-central | oauth2",
  },
  {
    key: "region",
    kind: "string",
    description: "region or cluster (techpulse us|eu, aruba-central US-1…, greenlake eu1|jp1|us1, new-central EU-1…)",
  },
  { key: "baseUrl", kind: "string", description: "identity service origin (emulator, proxy, test tenant)" },
  { key: "apiBaseUrl", kind: "string", description: "protected API origin where it differs (GreenLake DSCC)" },
  { key: "issuer", kind: "string", description: "oauth2: issuer for RFC 8414 discovery" },
  { key: "tokenUrl", kind: "string", description: "oauth2 (greenlake-platform: override): token endpoint" },
  { key: "authorizationUrl", kind: "string", description: "oauth2: authorization endpoint" },
  { key: "clientId", kind: "string", description: "OAuth client id" },
  { key: "clientSecret", kind: "string", secret: true, description: "client secret (prefer --client-secret-env)" },
  { key: "clientSecretEnv", kind: "string", description: "name of an environment variable holding the client secret" },
  { key: "clientSecretCommand", kind: "string", description: "command whose stdout is the client secret" },
  { key: "username", kind: "string", description: "user name (wxp, aruba-central)" },
  { key: "password", kind: "string", secret: true, description: "password (prefer --password-env)" },
  { key: "passwordEnv", kind: "string", description: "name of an environment variable holding the password" },
  { key: "passwordCommand", kind: "string", description: "command whose stdout is the password" },
  { key: "customerId", kind: "string", description: "Aruba Central customer id" },
  { key: "redirectUri", kind: "string", description: "registered redirect URI for browser logins" },
  { key: "scope", kind: "string", description: "scope to request" },
  { key: "grantType", kind: "string", description: "oauth2: client_credentials | password | authorization_code" },
  { key: "clientAuth", kind: "string", description: "client_secret_basic | client_secret_post | none" },
  { key: "pkce", kind: "boolean", description: "oauth2 authorization_code: use PKCE S256 (default true)" },
  { key: "tokenParams", kind: "record", description: "oauth2: extra token request parameters (key=value)" },
  {
    key: "clientSecretCreatedAt",
    kind: "string",
    description: "TechPulse: date the client secret was created (YYYY-MM-DD)",
  },
  { key: "callbackPort", kind: "number", description: "fixed loopback port for browser logins" },
  {
    key: "proxy",
    kind: "string",
    description: "HTTP proxy for this profile (http://host:port), instead of HTTPS_PROXY; NO_PROXY still applies",
  },
  { key: "caFile", kind: "string", description: "PEM file of extra CA certificates to trust (private or proxy CA)" },
  {
    key: "workspaceId",
    kind: "string",
    description: "greenlake-platform, new-central: workspace id of the API client (tokens are workspace-scoped)",
  },
  {
    key: "tenantWorkspaceId",
    kind: "string",
    description: "greenlake-platform, new-central: MSP token exchange to this tenant workspace (RFC 8693)",
  },
  {
    key: "proxyAllow",
    kind: "list",
    fileOnly: true,
    description: "hpauth proxy: allow-list rules for this profile's listener ('METHOD /path/glob'; see docs/proxy.md)",
  },
];

export const FIELD_BY_KEY: ReadonlyMap<string, ProfileField> = new Map(PROFILE_FIELDS.map((f) => [f.key, f]));

export function snakeCase(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function kebabCase(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function camelCase(key: string): string {
  return key.replace(/[-_]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `clientId` → `HPAUTH_CLIENT_ID`. */
export function envName(key: string): string {
  return `HPAUTH_${snakeCase(key).toUpperCase()}`;
}

/** `clientId` → `--client-id`. */
export function flagName(key: string): string {
  return `--${kebabCase(key)}`;
}
