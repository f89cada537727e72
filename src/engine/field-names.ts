/**
 * Messages name profile fields the way users write them: the config-file keys (`client_secret_env`), which are
 * also what `HPAUTH_CLIENT_SECRET_ENV` and `--client-secret-env` spell, not the TypeScript property names. The
 * engine builds its messages with the property names and passes them through here once, so a message written
 * anywhere in the engine (a provider's own checks included) comes out right.
 */
import type { ProfileConfig } from "./types.js";

/** Every ProfileConfig key whose config-file spelling differs (a compile error here when a field is added). */
const CAMEL_KEYS: Record<
  Exclude<keyof ProfileConfig, "provider" | "region" | "issuer" | "username" | "password" | "scope" | "pkce" | "proxy">,
  true
> = {
  baseUrl: true,
  apiBaseUrl: true,
  tokenUrl: true,
  authorizationUrl: true,
  clientId: true,
  clientSecret: true,
  clientSecretEnv: true,
  clientSecretCommand: true,
  passwordEnv: true,
  passwordCommand: true,
  customerId: true,
  redirectUri: true,
  grantType: true,
  clientAuth: true,
  tokenParams: true,
  clientSecretCreatedAt: true,
  callbackPort: true,
  caFile: true,
  workspaceId: true,
  tenantWorkspaceId: true,
  proxyAllow: true,
};

// Longest first; whole words only, so `clientSecret` is not found inside `clientSecretEnv`.
const KEY_RE = new RegExp(
  `\\b(${Object.keys(CAMEL_KEYS)
    .sort((a, b) => b.length - a.length)
    .join("|")})\\b`,
  "g",
);

/** `clientSecretEnv` → `client_secret_env`. */
export function configKey(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Rewrites every profile field named in `text` to its config-file key. */
export function withConfigKeys(text: string): string {
  return text.replace(KEY_RE, (k) => configKey(k));
}
