/**
 * `hpauth profiles list|show|add|remove`. `add` asks, on a TTY, only for the fields the chosen provider needs;
 * secrets are referenced (an environment variable or a command) rather than written, unless --save-secrets.
 */
import { createInterface, type Interface } from "node:readline/promises";
import { envName, flagName, snakeCase } from "../../config/fields.js";
import { maskProfile, profileFromEnv, profileFromFlags, selectProfileName } from "../../config/resolve.js";
import { removeProfile, writeProfile } from "../../config/write.js";
import { HpauthError } from "../../engine/errors.js";
import { providerFields, validateProfile } from "../../engine/profile.js";
import { getProvider } from "../../engine/providers/index.js";
import type { ProviderField } from "../../engine/providers/types.js";
import { PROVIDER_IDS, type ProfileConfig, type ProviderId } from "../../engine/types.js";
import { loadCliConfig, makeManager, openStore, warn } from "../context.js";
import { table } from "../format.js";
import type { CommandIO } from "../io.js";
import type { ProfilesOptions } from "../options.js";

/**
 * Fields `profiles add` does not ask about (flags and the file still take them): transport details whose defaults
 * are right for nearly everyone. What it does ask comes from the engine (providerFields), so a new provider or
 * field needs no change here.
 */
const NOT_ASKED = new Set(["apiBaseUrl", "clientAuth", "pkce", "tokenParams", "callbackPort"]);

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
    const fields = [...e.message.matchAll(/^\s+- (\w+)/gm)].map((m) => m[1]!);
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
    io.stdout.write(`${JSON.stringify({ name, ...masked })}\n`);
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
    const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
    const onAbort = () => rl.close();
    io.signal.addEventListener("abort", onAbort, { once: true });
    try {
      name = name || (await ask(rl, io, "Profile name", "default"));
      profile = await interview(rl, io, given, options);
    } finally {
      io.signal.removeEventListener("abort", onAbort);
      rl.close();
    }
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
    io.stdout.write(`${JSON.stringify({ config: config.path, profile: name, ...maskProfile(profile) })}\n`);
  else if (!options.quiet)
    io.stderr.write(`Saved profile "${name}" to ${config.path}.\nTry: hpauth token -p ${name}\n`);
  return 0;
}

async function ask(rl: Interface, io: CommandIO, prompt: string, def?: string): Promise<string> {
  const answer = (await rl.question(`${prompt}${def ? ` [${def}]` : ""}: `, { signal: io.signal })).trim();
  return answer || def || "";
}

async function interview(
  rl: Interface,
  io: CommandIO,
  given: ProfileConfig,
  options: ProfilesOptions,
): Promise<ProfileConfig> {
  const profile: ProfileConfig = { ...given };
  while (!profile.provider) {
    const v = await ask(rl, io, `Provider (${PROVIDER_IDS.join(", ")})`);
    if ((PROVIDER_IDS as readonly string[]).includes(v)) profile.provider = v as ProviderId;
    else io.stderr.write(`  "${v}" is not a provider.\n`);
  }
  const def = getProvider(profile.provider);
  for (const f of promptsFor(profile.provider)) {
    const key = f.name as keyof ProfileConfig;
    if (f.name === "clientSecret" || f.name === "password") {
      const secret = f.name;
      if (hasSecret(profile, secret)) continue;
      const label = secret === "password" ? "password" : "client secret";
      io.stderr.write(`${f.description}${f.required ? "" : " (optional)"}:\n`);
      const envVar = await ask(
        rl,
        io,
        `  Environment variable holding the ${label} (recommended; empty for other options)`,
      );
      if (envVar) {
        profile[`${secret}Env`] = envVar;
        if (io.env[envVar] === undefined) io.stderr.write(`  Note: ${envVar} is not set in this shell.\n`);
        continue;
      }
      const cmd = await ask(rl, io, `  Command that prints the ${label} (e.g. a password manager; empty to skip)`);
      if (cmd) {
        profile[`${secret}Command`] = cmd;
        continue;
      }
      if (options.saveSecrets) {
        io.stderr.write(`  The ${label} will be stored in the config file (mode 0600).\n`);
        const value = await rl.question(`  ${label[0]!.toUpperCase()}${label.slice(1)}: `, { signal: io.signal });
        if (value) profile[secret] = value;
      } else if (f.required) {
        io.stderr.write(
          `  No ${label} source saved; set ${envName(secret)} or add ${snakeCase(secret)}_env later (or rerun with --save-secrets).\n`,
        );
      }
      continue;
    }
    if (profile[key] !== undefined) continue;
    if (key === "region" && profile.baseUrl) continue;
    if (key === "baseUrl" && !f.required) continue; // an override: flags only
    const choices =
      key === "region" && def.regions ? Object.keys(def.regions) : key === "grantType" ? GRANT_TYPES : undefined;
    const fallback = key === "region" ? def.defaultRegion : key === "grantType" ? "client_credentials" : undefined;
    // A region is needed when the provider has no default and no base URL was given.
    const required = f.required || (key === "region" && !def.defaultRegion);
    const prompt = `${f.description}${required || fallback ? "" : " (optional)"}`;
    for (;;) {
      const v = await ask(rl, io, choices && key !== "region" ? `${prompt} [${choices.join(", ")}]` : prompt, fallback);
      if (!v && !required) break;
      if (!v) continue;
      const match = choices?.find((c) => c.toLowerCase() === v.toLowerCase());
      if (choices && !match) {
        io.stderr.write(`  Choose one of ${choices.join(", ")}.\n`);
        continue;
      }
      (profile as Record<string, unknown>)[key] = match ?? v;
      break;
    }
  }
  return profile;
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
  return 0;
}
