/**
 * Profile validation: a NamedProfile in, a ResolvedProfile out (endpoints computed from region or base URL,
 * secrets as references), or one CONFIG_INVALID error listing every problem, each naming its field.
 */
import { HpauthError } from "./errors.js";
import { configKey, withConfigKeys } from "./field-names.js";
import { parseProxy } from "./network.js";
import { getProvider, PROVIDERS } from "./providers/index.js";
import { isLoopback } from "./providers/oauth2.js";
import type { ProviderField, ResolvedProfile } from "./providers/types.js";
import { type SecretField, SecretRef } from "./secrets.js";
import { sha256Hex } from "./sha256.js";
import { suggestion } from "./suggest.js";
import { type NamedProfile, PROVIDER_IDS, type ProviderId } from "./types.js";

export type { ProviderField, ResolvedProfile } from "./providers/types.js";

/** The fields a provider uses, for `profiles add` prompts and docs. */
export function providerFields(id: ProviderId): ProviderField[] {
  const def = PROVIDERS[id];
  if (!def) throw new TypeError(`unknown provider "${id}"`);
  const secretFieldNames = new Set(["clientSecret", "password"]);
  const out: ProviderField[] = [];
  for (const f of def.fields) {
    out.push({ ...f });
    // Each secret has env/command alternatives; list them so prompts and docs can offer them.
    if (secretFieldNames.has(f.name)) {
      out.push({
        name: `${f.name}Env`,
        required: false,
        description: `name of an environment variable holding the ${configKey(f.name)}`,
      });
      out.push({
        name: `${f.name}Command`,
        required: false,
        description: `command whose stdout is the ${configKey(f.name)} (run via /bin/sh)`,
      });
    }
  }
  if (!def.fields.some((f) => f.name === "baseUrl")) {
    out.push({
      name: "baseUrl",
      required: false,
      description: "override the identity service origin (emulator, proxy, test tenant)",
    });
  }
  return out;
}

function parseUrl(field: string, value: string, problems: string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${field}: "${value}" is not an absolute URL (expected e.g. https://host)`);
    return undefined;
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url))) {
    problems.push(
      `${field}: must use https:// (http:// only for loopback hosts such as 127.0.0.1), got ${url.protocol}//${url.host}`,
    );
    return undefined;
  }
  if (url.username || url.password) {
    problems.push(`${field}: must not carry credentials in the URL`);
    return undefined;
  }
  if (url.search || url.hash) {
    problems.push(`${field}: must not have a query string or fragment`);
    return undefined;
  }
  return url.href.replace(/\/+$/, "");
}

function secretRef(p: NamedProfile, field: SecretField, problems: string[]): SecretRef | undefined {
  const inline = p[field];
  const env = p[`${field}Env`];
  const command = p[`${field}Command`];
  const given = [inline !== undefined && inline !== "", !!env, !!command].filter(Boolean).length;
  if (given > 1) {
    problems.push(`${field}: give only one of ${field}, ${field}Env or ${field}Command`);
    return undefined;
  }
  if (inline !== undefined && inline !== "") return new SecretRef(field, "inline", inline);
  if (env) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
      problems.push(`${field}Env: "${env}" is not an environment variable name`);
      return undefined;
    }
    return new SecretRef(field, "env", env);
  }
  if (command) return new SecretRef(field, "command", command);
  return undefined;
}

/** Validates a profile against its provider. Throws CONFIG_INVALID naming every bad or missing field at once. */
export function validateProfile(profile: NamedProfile): ResolvedProfile {
  const problems: string[] = [];
  const name = typeof profile.name === "string" && profile.name !== "" ? profile.name : "(unnamed)";
  if (!profile.provider) {
    throw new HpauthError(
      "CONFIG_INVALID",
      `Profile "${name}": provider: missing (expected one of ${PROVIDER_IDS.join(", ")})`,
      {
        profile: name,
        hint: "Set provider in the profile, --provider or HPAUTH_PROVIDER.",
      },
    );
  }
  if (!(PROVIDER_IDS as readonly string[]).includes(profile.provider)) {
    throw new HpauthError(
      "CONFIG_INVALID",
      `Profile "${name}": provider: unknown "${profile.provider}" (expected one of ${PROVIDER_IDS.join(", ")}${suggestion(profile.provider, PROVIDER_IDS)})`,
      { profile: name },
    );
  }
  const def = getProvider(profile.provider);
  const resolved: ResolvedProfile = {
    name,
    provider: def.id,
    baseUrl: "",
    pkce: profile.pkce ?? true,
    tokenParams: {},
  };

  // Region or cluster, matched case-insensitively; base URL override wins for the identity origin.
  let regionApiBase: string | undefined;
  let regionBase: string | undefined;
  if (profile.region !== undefined && profile.region !== "") {
    if (!def.regions) {
      problems.push(`region: ${def.title} has no regions; set baseUrl instead`);
    } else {
      const match = Object.keys(def.regions).find((r) => r.toLowerCase() === profile.region?.trim().toLowerCase());
      if (!match) {
        problems.push(
          `region: unknown ${def.regionLabel ?? "region"} "${profile.region}" (expected one of ${Object.keys(def.regions).join(", ")})`,
        );
      } else {
        resolved.region = match;
        regionBase = def.regions[match]?.baseUrl;
        regionApiBase = def.regions[match]?.apiBaseUrl;
      }
    }
  } else if (def.defaultRegion && def.regions) {
    resolved.region = def.defaultRegion;
    regionBase = def.regions[def.defaultRegion]?.baseUrl;
    regionApiBase = def.regions[def.defaultRegion]?.apiBaseUrl;
  }

  const baseOverride = profile.baseUrl ? parseUrl("baseUrl", profile.baseUrl, problems) : undefined;
  const apiOverride = profile.apiBaseUrl ? parseUrl("apiBaseUrl", profile.apiBaseUrl, problems) : undefined;
  const base = baseOverride ?? regionBase ?? def.defaultBaseUrl;
  if (!base && !profile.baseUrl && def.id !== "oauth2") {
    problems.push(
      def.regions
        ? `baseUrl: required when no ${def.regionLabel ?? "region"} is given (${def.regionLabel ?? "region"}s: ${Object.keys(def.regions).join(", ")})`
        : `baseUrl: required: ${def.baseUrlHint ?? "the service's base URL"}`,
    );
  }
  resolved.baseUrl = base ?? "";
  // With baseUrl overridden (emulator, proxy), the API lives there too unless apiBaseUrl says otherwise.
  const apiBase = apiOverride ?? (baseOverride ? baseOverride : regionApiBase);
  if (apiBase) resolved.apiBaseUrl = apiBase;

  for (const [field, value] of [
    ["issuer", profile.issuer],
    ["tokenUrl", profile.tokenUrl],
    ["authorizationUrl", profile.authorizationUrl],
  ] as const) {
    if (value && (def.id === "oauth2" || (field === "tokenUrl" && def.acceptsTokenUrl))) {
      const u = parseUrl(field, value, problems);
      // The issuer is compared verbatim with the discovered metadata's, so it keeps its exact spelling.
      if (u) resolved[field] = field === "issuer" ? value : u;
    }
  }
  if (def.id !== "oauth2") {
    for (const field of ["issuer", "tokenUrl", "authorizationUrl", "grantType"] as const) {
      if (field === "tokenUrl" && def.acceptsTokenUrl) continue;
      if (profile[field]) problems.push(`${field}: only used by the oauth2 provider (this profile is ${def.id})`);
    }
  }

  if (profile.clientId) resolved.clientId = profile.clientId;
  if (profile.username) resolved.username = profile.username;
  if (profile.customerId) resolved.customerId = profile.customerId;
  if (profile.scope) resolved.scope = profile.scope;
  if (profile.grantType) resolved.grantType = profile.grantType;
  if (profile.redirectUri) {
    try {
      new URL(profile.redirectUri);
      resolved.redirectUri = profile.redirectUri;
    } catch {
      problems.push(
        `redirectUri: "${profile.redirectUri}" is not an absolute URI (e.g. http://localhost:8765/callback)`,
      );
    }
  }
  if (profile.clientAuth !== undefined) {
    if (!["client_secret_basic", "client_secret_post", "none"].includes(profile.clientAuth)) {
      problems.push(
        `clientAuth: expected client_secret_basic, client_secret_post or none, got "${profile.clientAuth}"`,
      );
    } else {
      resolved.clientAuth = profile.clientAuth;
    }
  }
  if (profile.tokenParams !== undefined) {
    if (typeof profile.tokenParams !== "object" || profile.tokenParams === null || Array.isArray(profile.tokenParams)) {
      problems.push("tokenParams: expected a table of string values");
    } else {
      for (const [k, v] of Object.entries(profile.tokenParams)) {
        if (typeof v !== "string") problems.push(`tokenParams.${k}: expected a string`);
        else if (["grant_type", "client_secret", "refresh_token", "code", "password"].includes(k)) {
          problems.push(`tokenParams.${k}: may not override a protocol parameter`);
        } else resolved.tokenParams[k] = v;
      }
    }
  }
  if (profile.clientSecretCreatedAt !== undefined) {
    const d = /^\d{4}-\d{2}-\d{2}$/.test(profile.clientSecretCreatedAt)
      ? new Date(`${profile.clientSecretCreatedAt}T00:00:00Z`)
      : undefined;
    if (!d || Number.isNaN(d.getTime())) {
      problems.push(`clientSecretCreatedAt: expected a date as YYYY-MM-DD, got "${profile.clientSecretCreatedAt}"`);
    } else resolved.clientSecretCreatedAt = d;
  }
  if (profile.callbackPort !== undefined) {
    const port = Number(profile.callbackPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      problems.push(`callbackPort: expected a port number 1-65535, got "${profile.callbackPort}"`);
    } else resolved.callbackPort = port;
  }
  if (profile.pkce !== undefined && typeof profile.pkce !== "boolean") problems.push("pkce: expected true or false");
  if (profile.proxy) {
    try {
      parseProxy(profile.proxy, "proxy");
      resolved.proxy = profile.proxy;
    } catch (e) {
      problems.push(`proxy: ${(e as Error).message.replace(/^proxy: /, "")} (expected http://host:port)`);
    }
  }
  if (profile.caFile) resolved.caFile = profile.caFile;

  const secret = secretRef(profile, "clientSecret", problems);
  if (secret) resolved.clientSecret = secret;
  const password = secretRef(profile, "password", problems);
  if (password) resolved.password = password;

  for (const f of def.fields) {
    if (!f.required) continue;
    const present =
      f.name === "clientSecret"
        ? !!resolved.clientSecret || problems.some((m) => m.startsWith("clientSecret"))
        : f.name === "password"
          ? !!resolved.password || problems.some((m) => m.startsWith("password"))
          : f.name === "baseUrl"
            ? !!profile.baseUrl
            : !!(profile as unknown as Record<string, unknown>)[f.name];
    if (!present && !(f.name === "baseUrl" && problems.some((m) => m.startsWith("baseUrl")))) {
      const alt = f.secret ? ` (or ${f.name}Env / ${f.name}Command)` : "";
      problems.push(`${f.name}: required: ${f.description}${alt}`);
    }
  }

  def.resolve(profile, resolved, problems);

  if (problems.length > 0) {
    // Checked above by their TypeScript names; shown by the names the user writes (client_secret_env).
    const list = problems.map((m) => `  - ${withConfigKeys(m)}`).join("\n");
    throw new HpauthError("CONFIG_INVALID", `Profile "${name}" (${def.id}) is not valid:\n${list}`, {
      provider: def.id,
      profile: name,
      hint: fixHint(problems),
    });
  }
  return resolved;
}

/**
 * Where the fields named by `problems` (`clientId: …`, `tokenParams.x: …`) are set: the config file's key, the flag
 * or the HPAUTH_* variable. It fits a profile from the file as well as a one-off one made of flags and variables
 * (`--provider greenlake …`, named after its provider), which no `hpauth profiles show` could show. A secret's flag
 * is its *_env one: a secret given as a flag shows in `ps`.
 */
function fixHint(problems: string[]): string {
  const fields: string[] = [];
  for (const m of problems) {
    const field = /^[A-Za-z]+/.exec(m)?.[0] ?? "";
    if (!fields.includes(field)) fields.push(field);
  }
  const given = (f: string) => configKey(f === "clientSecret" || f === "password" ? `${f}Env` : f);
  const flag = (f: string) => `--${given(f).replaceAll("_", "-")}`;
  if (fields.length === 1) {
    const f = fields[0] as string;
    return `Set ${configKey(f)} in the profile, ${flag(f)} or HPAUTH_${given(f).toUpperCase()}.`;
  }
  return `Set them in the profile, as flags (${fields.map(flag).join(", ")}) or as HPAUTH_* variables.`;
}

// A pure-JS SHA-256 (./sha256.ts): the CLI's cached-token probe computes the same key without loading node:crypto.
function sha(parts: Array<string | undefined>): string {
  return sha256Hex(parts.map((p) => p ?? "").join("\u0000")).slice(0, 24);
}

/**
 * Store key of a credential: the same account at the same token endpoint shares tokens across profiles and processes.
 * GreenLake platform tokens are workspace-scoped, so the workspace (and, for an MSP exchange, the tenant) is part of
 * the key; appended only when set, so the keys of the other providers stay what they were.
 */
export function credentialKey(p: ResolvedProfile): string {
  const family = getProvider(p.provider).credentialFamily ?? p.provider;
  const endpoint = p.tokenUrl ?? p.issuer ?? p.baseUrl;
  const parts = [family, endpoint, p.clientId, p.username, p.customerId];
  if (p.workspaceId !== undefined || p.tenantWorkspaceId !== undefined) {
    parts.push(`workspace:${p.workspaceId ?? ""}`, `tenant:${p.tenantWorkspaceId ?? ""}`);
  }
  return `${family}-${sha(parts)}`;
}

/** Aruba's budget is per client id (whatever the user, profile or process). */
export function loginBudgetKey(p: ResolvedProfile): string {
  return `${p.provider}-budget-${sha([p.provider, "login-budget", p.clientId])}`;
}
