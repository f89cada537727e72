/**
 * `hpauth profiles list|show|add|remove`. `add` asks, on a TTY, only for the fields the chosen provider needs;
 * secrets are referenced (an environment variable or a command) rather than written, unless --save-secrets.
 */
import { createInterface, type Interface } from "node:readline/promises";
import { envName, flagName, snakeCase } from "../../config/fields.js";
import { maskProfile, profileFromEnv, profileFromFlags, selectProfileName } from "../../config/resolve.js";
import { removeProfile, writeProfile } from "../../config/write.js";
import { HpauthError } from "../../engine/errors.js";
import { PROVIDER_IDS, type ProfileConfig, type ProviderId } from "../../engine/types.js";
import { loadCliConfig, makeManager, openStore, warn } from "../context.js";
import { table } from "../format.js";
import type { CommandIO } from "../io.js";
import type { ProfilesOptions } from "../options.js";

interface AskField {
  key: keyof ProfileConfig;
  prompt: string;
  required: boolean;
  choices?: string[];
  secret?: "clientSecret" | "password";
  default?: string;
}

/** What `profiles add` asks per provider (the fields each flow needs; see docs/cli.md). */
export const PROVIDER_PROMPTS: Record<ProviderId, AskField[]> = {
  techpulse: [
    { key: "region", prompt: "Region", required: true, choices: ["us", "eu"], default: "us" },
    { key: "clientId", prompt: "Client id", required: true },
    { key: "clientSecret", prompt: "Client secret", required: true, secret: "clientSecret" },
    {
      key: "redirectUri",
      prompt: "Registered redirect URI",
      required: true,
      default: "http://localhost:8765/callback",
    },
    {
      key: "clientSecretCreatedAt",
      prompt: "Date the client secret was created (YYYY-MM-DD, for expiry warnings)",
      required: false,
    },
  ],
  wxp: [
    { key: "username", prompt: "User name", required: true },
    { key: "password", prompt: "Password", required: true, secret: "password" },
  ],
  greenlake: [
    { key: "region", prompt: "API region", required: true, choices: ["eu1", "jp1", "us1"], default: "us1" },
    { key: "clientId", prompt: "Client id", required: true },
    { key: "clientSecret", prompt: "Client secret", required: true, secret: "clientSecret" },
  ],
  "aruba-central": [
    {
      key: "region",
      prompt: "Cluster",
      required: true,
      default: "US-1",
      choices: [
        "US-1",
        "US-2",
        "US-East1",
        "US-West4",
        "EU-1",
        "EU-Central2",
        "EU-Central3",
        "Canada-1",
        "China-1",
        "APAC-1",
        "APAC-EAST1",
        "APAC-SOUTH1",
        "UAE-NORTH1",
      ],
    },
    { key: "customerId", prompt: "Customer id", required: true },
    { key: "clientId", prompt: "Client id", required: true },
    { key: "clientSecret", prompt: "Client secret", required: true, secret: "clientSecret" },
    { key: "username", prompt: "User name", required: true },
    { key: "password", prompt: "Password", required: true, secret: "password" },
  ],
  "hpe-identity": [
    { key: "baseUrl", prompt: "Base URL (FUT/ITG/PRO environment)", required: true },
    { key: "clientId", prompt: "Client id", required: true },
    { key: "clientSecret", prompt: "Client secret", required: true, secret: "clientSecret" },
  ],
  oauth2: [
    {
      key: "grantType",
      prompt: "Grant",
      required: true,
      choices: ["client_credentials", "password", "authorization_code"],
      default: "client_credentials",
    },
    { key: "tokenUrl", prompt: "Token endpoint URL (empty to use issuer discovery)", required: false },
    { key: "issuer", prompt: "Issuer (for discovery, if no token URL)", required: false },
    { key: "clientId", prompt: "Client id", required: true },
    { key: "clientSecret", prompt: "Client secret", required: false, secret: "clientSecret" },
    { key: "scope", prompt: "Scope", required: false },
  ],
};

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
  const config = await loadCliConfig(options, io);
  const given: ProfileConfig = { ...profileFromEnv(io.env), ...profileFromFlags(options.fields) };
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
    const missing = PROVIDER_PROMPTS[profile.provider]
      .filter((f) => f.required && !(f.secret ? hasSecret(profile, f.secret) : profile[f.key] !== undefined))
      .filter((f) => !(f.key === "region" && profile.baseUrl))
      .map((f) =>
        f.secret ? `${flagName(`${f.secret}Env`)} (or ${flagName(`${f.secret}Command`)})` : flagName(f.key),
      );
    if (missing.length) {
      throw new HpauthError(
        "CONFIG_INVALID",
        `Profile "${name}" (${profile.provider}): missing ${missing.join(", ")}`,
        {
          profile: name,
          provider: profile.provider,
        },
      );
    }
  }
  if (!name) throw new HpauthError("USAGE", "A profile name is required");
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
  for (const f of PROVIDER_PROMPTS[profile.provider]) {
    if (f.secret) {
      if (hasSecret(profile, f.secret)) continue;
      const label = f.secret === "password" ? "password" : "client secret";
      const envVar = await ask(
        rl,
        io,
        `Environment variable holding the ${label} (recommended; empty for other options)`,
        undefined,
      );
      if (envVar) {
        profile[`${f.secret}Env`] = envVar;
        if (io.env[envVar] === undefined) io.stderr.write(`  Note: ${envVar} is not set in this shell.\n`);
        continue;
      }
      const cmd = await ask(rl, io, `Command that prints the ${label} (e.g. a password manager; empty to skip)`);
      if (cmd) {
        profile[`${f.secret}Command`] = cmd;
        continue;
      }
      if (options.saveSecrets) {
        io.stderr.write(`  The ${label} will be stored in the config file (mode 0600).\n`);
        const secret = await rl.question(`${f.prompt}: `, { signal: io.signal });
        if (secret) profile[f.secret] = secret;
      } else {
        io.stderr.write(
          `  No ${label} source saved; set ${envName(f.secret)} or add ${snakeCase(f.secret)}_env later (or rerun with --save-secrets).\n`,
        );
      }
      continue;
    }
    if (profile[f.key] !== undefined) continue;
    if (f.key === "region" && profile.baseUrl) continue;
    for (;;) {
      const v = await ask(rl, io, f.choices ? `${f.prompt} (${f.choices.join(", ")})` : f.prompt, f.default);
      if (!v && !f.required) break;
      if (!v) continue;
      if (f.choices && !f.choices.includes(v)) {
        io.stderr.write(`  Choose one of ${f.choices.join(", ")}.\n`);
        continue;
      }
      (profile as Record<string, unknown>)[f.key] = v;
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
  const store = openStore(options, io);
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
