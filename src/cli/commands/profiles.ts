/**
 * `hpauth profiles list|show|add|remove`. `add` asks, on a TTY, only for the fields the chosen provider (and, for
 * oauth2, the chosen grant) needs, checks each answer as it is typed, and reads a secret without echo; secrets are
 * referenced (an environment variable or a command) rather than written, unless --save-secrets.
 */
import { camelCase, envName, flagName, snakeCase } from "../../config/fields.js";
import { maskProfile, profileFromEnv, profileFromFlags, selectProfileName } from "../../config/resolve.js";
import { removeProfile, writeProfile } from "../../config/write.js";
import { HpauthError } from "../../engine/errors.js";
import { configKey, withConfigKeys } from "../../engine/field-names.js";
import { providerFields, validateProfile } from "../../engine/profile.js";
import { getProvider } from "../../engine/providers/index.js";
import type { ProviderField } from "../../engine/providers/types.js";
import { didYouMean, suggestion } from "../../engine/suggest.js";
import { PROVIDER_IDS, type ProfileConfig, type ProviderId } from "../../engine/types.js";
import { loadCliConfig, makeManager, openStore, warn } from "../context.js";
import { table } from "../format.js";
import type { CommandIO } from "../io.js";
import type { ProfilesOptions } from "../options.js";
import { type Prompter, terminalPrompter } from "../prompt.js";

/**
 * Fields `profiles add` does not ask about (flags and the file still take them): transport details whose defaults
 * are right for nearly everyone. What it does ask comes from the engine (providerFields), so a new provider or
 * field needs no change here.
 */
const NOT_ASKED = new Set(["apiBaseUrl", "clientAuth", "pkce", "tokenParams", "callbackPort", "proxyAllow"]);

/** Fixed choices the engine documents only in prose. */
const GRANT_TYPES = ["client_credentials", "password", "authorization_code"];

/** What to ask, in the engine's order, for one provider: secrets once (their *Env / *Command forms are offered). */
export function promptsFor(provider: ProviderId): ProviderField[] {
  return providerFields(provider).filter(
    (f) => !/(Env|Command)$/.test(f.name) && !(NOT_ASKED.has(f.name) && !f.required) && f.name !== "provider",
  );
}

/**
 * The engine's verdict on a profile about to be written. Its message names fields (`clientSecret: required`); the
 * hint adds the flags that set them, for the non-interactive form.
 */
function checkProfile(
  name: string,
  profile: ProfileConfig,
  interactive: boolean,
  deferred: ReadonlySet<string> = new Set(),
): void {
  // At the prompt a secret may be left for later (HPAUTH_CLIENT_SECRET / HPAUTH_PASSWORD at run time, as the
  // interview says), and so may an inline secret that was not saved; the other fields are still checked.
  const later: ProfileConfig = {};
  for (const s of ["clientSecret", "password"] as const) if (deferred.has(s)) later[`${s}Env`] = envName(s);
  if (interactive && profile.provider) {
    const required = new Set(
      providerFields(profile.provider)
        .filter((f) => f.required)
        .map((f) => f.name),
    );
    for (const s of ["clientSecret", "password"] as const) {
      if (required.has(s) && !hasSecret(profile, s)) later[`${s}Env`] = envName(s);
    }
  }
  try {
    validateProfile({ ...later, ...profile, name });
  } catch (e) {
    if (!(e instanceof HpauthError) || e.code !== "CONFIG_INVALID" || interactive) throw e;
    // The engine names config-file keys (`client_secret: required`); the flags are their kebab-case twins.
    const fields = [...e.message.matchAll(/^\s+- (\w+)/gm)].map((m) => camelCase(m[1]!));
    const flags = [...new Set(fields)].map((f) =>
      f === "clientSecret" || f === "password" ? `${flagName(`${f}Env`)} (or ${flagName(`${f}Command`)})` : flagName(f),
    );
    throw new HpauthError("CONFIG_INVALID", e.message, {
      ...(e.provider ? { provider: e.provider } : {}),
      profile: name,
      hint: flags.length ? `Give ${flags.join(", ")}; nothing was written.` : "Nothing was written.",
    });
  }
}

const hasSecret = (p: ProfileConfig, s: "clientSecret" | "password") =>
  p[s] !== undefined || p[`${s}Env`] !== undefined || p[`${s}Command`] !== undefined;

/** Profile fields as `--json` names them: the config file's snake_case keys (`client_secret_env`). */
function jsonFields(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [snakeCase(k), v]));
}

export async function runProfiles(options: ProfilesOptions, io: CommandIO): Promise<number> {
  switch (options.action) {
    case "show":
      return show(options, io);
    case "add":
      return add(options, io);
    case "remove":
      return remove(options, io);
    default:
      return list(options, io);
  }
}

async function list(options: ProfilesOptions, io: CommandIO): Promise<number> {
  const config = await loadCliConfig(options, io);
  const def = selectProfileName(config, undefined);
  const rows = Object.entries(config.profiles).map(([name, p]) => ({
    name,
    provider: p.provider ?? null,
    region: p.region ?? null,
    base_url: p.baseUrl ?? null,
    default: name === def,
  }));
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ config: config.path, exists: config.exists, profiles: rows })}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write(`No profiles in ${config.path}. Add one with \`hpauth profiles add\`.\n`);
    return 0;
  }
  io.stdout.write(
    table(
      ["", "NAME", "PROVIDER", "REGION / BASE URL"],
      rows.map((r) => [r.default ? "*" : "", r.name, r.provider ?? "?", r.base_url ?? r.region ?? "-"]),
    ),
  );
  if (!options.quiet) io.stderr.write(`(${config.path}; * = default)\n`);
  return 0;
}

async function show(options: ProfilesOptions, io: CommandIO): Promise<number> {
  const config = await loadCliConfig(options, io);
  const name = options.name!;
  const p = config.profiles[name];
  if (!p) {
    throw new HpauthError("PROFILE_NOT_FOUND", `Profile "${name}" not found in ${config.path}`, {
      profile: name,
      hint: `Defined profiles: ${Object.keys(config.profiles).join(", ") || "(none)"}.`,
    });
  }
  const masked = maskProfile(p);
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ name, ...jsonFields(masked) })}\n`);
    return 0;
  }
  const rows = Object.entries(masked).map(([k, v]) => [snakeCase(k), typeof v === "string" ? v : JSON.stringify(v)]);
  io.stdout.write(`[profiles.${name}]  (${config.path})\n${table(["FIELD", "VALUE"], rows)}`);
  return 0;
}

async function add(options: ProfilesOptions, io: CommandIO): Promise<number> {
  const config = await loadCliConfig(options, io, { mayBeMissing: true });
  const given: ProfileConfig = { ...profileFromEnv(io.env), ...profileFromFlags(options.fields) };
  // A secret given inline (HPAUTH_CLIENT_SECRET, --client-secret, …) is for this run: it goes into the file only
  // with --save-secrets. Saved profiles reference secrets by environment variable or command instead.
  const deferred = new Set<string>();
  if (!options.saveSecrets) {
    for (const s of ["clientSecret", "password"] as const) {
      if (given[s] === undefined) continue;
      delete given[s];
      deferred.add(s);
      const label = s === "password" ? "password" : "client secret";
      warn(
        io,
        options,
        `Not saving the ${label} given inline: at run time give it again (${envName(s)}), or save a reference with ${flagName(`${s}Env`)} NAME or ${flagName(`${s}Command`)} CMD (or store it with --save-secrets).`,
      );
    }
  }
  const interactive = io.stdinIsTTY && !options.nonInteractive && !options.json;
  let name = options.name;
  let profile: ProfileConfig;
  if (interactive) {
    const prompt = terminalPrompter(io);
    name = name || (await prompt.ask("Profile name", { default: "default" }));
    profile = await interview(prompt, io, given, options);
  } else {
    if (!name)
      throw new HpauthError("USAGE", "`profiles add` needs a name when not interactive", {
        hint: "hpauth profiles add <name> --provider …",
      });
    profile = given;
    if (!profile.provider) {
      throw new HpauthError("USAGE", `Profile "${name}": --provider is required`, {
        hint: `One of ${PROVIDER_IDS.join(", ")}.`,
      });
    }
  }
  if (!name) throw new HpauthError("USAGE", "A profile name is required");
  checkProfile(name, profile, interactive, deferred);
  if (name in config.profiles && !options.quiet) warn(io, options, `Replacing profile "${name}" in ${config.path}.`);
  await writeProfile(config.path, name, profile, { makeDefault: options.makeDefault === true });
  if (options.json)
    io.stdout.write(`${JSON.stringify({ config: config.path, profile: name, ...jsonFields(maskProfile(profile)) })}\n`);
  else if (!options.quiet)
    io.stderr.write(`Saved profile "${name}" to ${config.path}.\nTry: hpauth token -p ${name}\n`);
  return 0;
}

/**
 * Whether oauth2's chosen grant uses a field: the password grant is the only one with a resource owner, the
 * authorization_code grant the only one with a browser (authorization endpoint, redirect URI).
 */
function grantNeeds(profile: ProfileConfig, field: string): boolean {
  if (profile.provider !== "oauth2") return true;
  const grant = profile.grantType ?? "client_credentials";
  if (field === "username" || field === "password") return grant === "password";
  if (field === "authorizationUrl") return grant === "authorization_code" && !profile.issuer;
  if (field === "redirectUri") return grant === "authorization_code";
  if (field === "tokenUrl") return !profile.issuer;
  return true;
}

/** Whether a field must be answered for this profile (the engine's `required`, sharpened by provider and grant). */
function mustAnswer(profile: ProfileConfig, f: ProviderField, hasDefaultOrigin: boolean): boolean {
  if (profile.provider === "oauth2") {
    const grant = profile.grantType ?? "client_credentials";
    if (f.name === "tokenUrl") return !profile.issuer;
    if (f.name === "authorizationUrl") return grant === "authorization_code" && !profile.issuer;
    if (f.name === "username" || f.name === "password") return grant === "password";
    if (f.name === "clientSecret") return grant === "client_credentials";
  }
  // A region is needed only where nothing else gives the identity origin (Aruba: a cluster or its base URL).
  if (f.name === "region") return !hasDefaultOrigin && !profile.baseUrl;
  return f.required;
}

/**
 * The engine's verdict on one answer: the profile so far plus this field through validateProfile, keeping only what
 * it says about this field (other fields may still be missing at this point).
 */
function checkAnswer(profile: ProfileConfig, key: string, value: unknown): string | undefined {
  try {
    validateProfile({ ...profile, [key]: value, name: "check" } as ProfileConfig & { name: string });
  } catch (e) {
    if (!(e instanceof HpauthError)) throw e;
    const prefix = `${configKey(key)}:`;
    const mine = e.message
      .split("\n")
      .map((l) => l.replace(/^\s+- /, ""))
      .filter((l) => l.startsWith(prefix) && !/^\S+: required\b/.test(l));
    if (mine.length > 0) return mine.map((l) => l.slice(prefix.length).trim()).join("; ");
  }
  return undefined;
}

const looksLikeUrl = (v: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(v);

async function interview(
  prompt: Prompter,
  io: CommandIO,
  given: ProfileConfig,
  options: ProfilesOptions,
): Promise<ProfileConfig> {
  const profile: ProfileConfig = { ...given };
  if (!profile.provider) {
    const answer = await prompt.ask(`Provider (${PROVIDER_IDS.join(", ")})`, {
      validate: (v) =>
        PROVIDER_IDS.some((p) => p === v.toLowerCase())
          ? undefined
          : `"${v}" is not a provider${suggestion(v, PROVIDER_IDS) || `; choose one of ${PROVIDER_IDS.join(", ")}`}`,
    });
    profile.provider = answer.toLowerCase() as ProviderId;
  }
  const def = getProvider(profile.provider);
  // oauth2: the grant decides every other question, so it comes first.
  if (profile.provider === "oauth2" && profile.grantType === undefined) {
    const grant = await prompt.ask(`Grant type [${GRANT_TYPES.join(", ")}]`, {
      default: "client_credentials",
      validate: (v) =>
        GRANT_TYPES.includes(v.toLowerCase())
          ? undefined
          : `Choose one of ${GRANT_TYPES.join(", ")}${suggestion(v, GRANT_TYPES)}`,
    });
    profile.grantType = grant.toLowerCase() as ProfileConfig["grantType"];
  }
  for (const f of promptsFor(profile.provider)) {
    const key = f.name as keyof ProfileConfig;
    if (key === "grantType" || !grantNeeds(profile, f.name)) continue;
    const required = mustAnswer(profile, f, !!(def.defaultRegion || def.defaultBaseUrl));
    const description = withConfigKeys(f.description);
    if (f.name === "clientSecret" || f.name === "password") {
      if (hasSecret(profile, f.name)) continue;
      await askSecret(prompt, io, profile, f.name, description, required, options);
      continue;
    }
    if (profile[key] !== undefined) continue;
    if (key === "region" && profile.baseUrl) continue;
    if (key === "baseUrl" && !f.required) continue; // an override: flags only
    if (key === "region" && def.regions) {
      // The description offers a URL instead of a region (`or give base_url` / `api_base_url`): take one.
      const urlField: keyof ProfileConfig = /\bapiBaseUrl\b/.test(f.description) ? "apiBaseUrl" : "baseUrl";
      const regions = Object.keys(def.regions);
      const answer = await prompt.ask(`${description}`, {
        ...(def.defaultRegion ? { default: def.defaultRegion } : {}),
        optional: !required,
        validate: (v) => {
          if (looksLikeUrl(v)) return checkAnswer(profile, urlField, v);
          const near = didYouMean(v, regions);
          if (near?.toLowerCase() === v.toLowerCase()) return undefined;
          return `Not a ${def.regionLabel ?? "region"}${near ? ` (did you mean ${near}?)` : ""}: choose one of ${regions.join(", ")}, or give a URL`;
        },
      });
      if (!answer) continue;
      if (looksLikeUrl(answer)) (profile as Record<string, unknown>)[urlField] = answer;
      else profile.region = regions.find((r) => r.toLowerCase() === answer.toLowerCase())!;
      continue;
    }
    const answer = await prompt.ask(`${description}${required ? "" : " (optional)"}`, {
      optional: !required,
      validate: (v) => checkAnswer(profile, key, v),
    });
    if (answer) (profile as Record<string, unknown>)[key] = answer;
  }
  return profile;
}

/**
 * How hpauth will get a secret: an environment variable (recommended), a command, or — with --save-secrets — the
 * value itself, typed without echo and stored in the 0600 file. A secret typed where a variable name is asked would
 * be echoed and saved as a name, so a name that is neither set here nor shaped like one is refused.
 */
async function askSecret(
  prompt: Prompter,
  io: CommandIO,
  profile: ProfileConfig,
  secret: "clientSecret" | "password",
  description: string,
  required: boolean,
  options: ProfilesOptions,
): Promise<void> {
  const label = secret === "password" ? "password" : "client secret";
  io.stderr.write(`${description}${required ? "" : " (optional)"}:\n`);
  const envVar = await prompt.ask(
    `  Environment variable holding the ${label} (recommended; empty for other options)`,
    {
      optional: true,
      validate: (v) => {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) return "Not an environment variable name (letters, digits and _).";
        if (io.env[v] === undefined && !/^[A-Z_][A-Z0-9_]*$/.test(v)) {
          return `${v.length > 2 ? "That" : `"${v}"`} is not set here and does not look like a variable name (e.g. GL_SECRET); the ${label} itself goes into the variable, not here.`;
        }
        return undefined;
      },
    },
  );
  if (envVar) {
    profile[`${secret}Env`] = envVar;
    if (io.env[envVar] === undefined) io.stderr.write(`  Note: ${envVar} is not set in this shell.\n`);
    return;
  }
  const cmd = await prompt.ask(`  Command that prints the ${label} (e.g. a password manager; empty to skip)`, {
    optional: true,
  });
  if (cmd) {
    profile[`${secret}Command`] = cmd;
    return;
  }
  if (options.saveSecrets) {
    io.stderr.write(`  The ${label} will be stored in the config file (mode 0600).\n`);
    const value = await prompt.secret(`  ${label[0]!.toUpperCase()}${label.slice(1)}`);
    if (value) profile[secret] = value;
  } else if (required) {
    io.stderr.write(
      `  No ${label} source saved; set ${envName(secret)} or add ${snakeCase(secret)}_env later (or rerun with --save-secrets).\n`,
    );
  }
}

async function remove(options: ProfilesOptions, io: CommandIO): Promise<number> {
  const config = await loadCliConfig(options, io);
  const name = options.name!;
  const p = config.profiles[name];
  if (!p) {
    throw new HpauthError("PROFILE_NOT_FOUND", `Profile "${name}" not found in ${config.path}`, { profile: name });
  }
  // Forget its tokens too, best effort: a profile too broken to build a manager has none worth deleting.
  const store = openStore(options, io, undefined, config);
  try {
    await makeManager(options, io, { ...p, name }, store).logout();
  } catch {
    /* nothing stored or profile invalid */
  } finally {
    await store.close?.();
  }
  await removeProfile(config.path, name);
  if (options.json) io.stdout.write(`${JSON.stringify({ removed: name })}\n`);
  else if (!options.quiet) io.stderr.write(`Removed profile "${name}" from ${config.path}.\n`);
  // A Git host mapped to it now gets no token (and every command warns of the dangling entry): say so, once, here.
  const hosts = Object.entries(config.gitCredential ?? {}).filter(([, e]) => e.profile === name);
  if (hosts.length > 0) {
    warn(
      io,
      options,
      `Warning: ${hosts.map(([h]) => `[git_credential."${h}"]`).join(", ")} in ${config.path} still name${hosts.length === 1 ? "s" : ""} profile "${name}": point ${hosts.length === 1 ? "it" : "them"} at another profile or remove ${hosts.length === 1 ? "it" : "them"}.`,
    );
  }
  return 0;
}
