/**
 * What most commands need, built from the global options: the config file, the selected profile, the token store
 * (its warnings on stderr) and a TokenManager whose events become --verbose lines and, on a terminal, progress.
 */
import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { PROFILE_FIELDS, snakeCase } from "../config/fields.js";
import { type HpauthConfig, loadConfigFile } from "../config/load.js";
import { locateConfig } from "../config/paths.js";
import { type ResolvedConfigProfile, resolveProfile } from "../config/resolve.js";
import { createTokenManager, type TokenManager } from "../engine/manager.js";
import { getProvider } from "../engine/providers/index.js";
import { redact } from "../engine/redact.js";
import type { EngineEvent, InteractiveAuthorizer, NamedProfile } from "../engine/types.js";
import { defaultTokenDir, FileTokenStore } from "../stores/file.js";
import { MemoryTokenStore } from "../stores/memory.js";
import type { TokenStore } from "../stores/types.js";
import { parseStore } from "./globals.js";
import type { CommandIO } from "./io.js";
import type { GlobalOptions } from "./options.js";
import { clearProgress, progressEnabled, showProgress } from "./progress.js";
import { openCliRedisStore } from "./redis-store.js";

export { clearProgress, progressEnabled, showProgress };

export interface CliPlatform {
  platform: NodeJS.Platform;
  homedir: string;
}

export function hostPlatform(): CliPlatform {
  return { platform: process.platform, homedir: homedir() };
}

/** Warnings go to stderr unless --quiet (a progress line in the way is cleared first). */
export function warn(io: CommandIO, options: Pick<GlobalOptions, "quiet">, message: string): void {
  if (options.quiet) return;
  clearProgress(io);
  io.stderr.write(`${message}\n`);
}

export async function loadCliConfig(
  options: GlobalOptions,
  io: CommandIO,
  extra: { platform?: CliPlatform; mayBeMissing?: boolean } = {},
): Promise<HpauthConfig> {
  const platform = extra.platform ?? hostPlatform();
  const loc = locateConfig(options.config, io.env, platform.platform, platform.homedir);
  // A file named by --config / HPAUTH_CONFIG must exist, except for `profiles add`, which creates it.
  const config = await loadConfigFile(loc.path, loc.origin !== "default" && !extra.mayBeMissing);
  for (const w of config.warnings) warn(io, options, `Warning: ${w}`);
  if (config.exists && platform.platform !== "win32") await warnIfSecretsExposed(config, io, options);
  return config;
}

/** The fields that hold a secret inline (not a reference to one), as `profiles.<name>.<snake_key>`. */
export function inlineSecrets(config: HpauthConfig): string[] {
  const found: string[] = [];
  for (const [name, profile] of Object.entries(config.profiles)) {
    for (const f of PROFILE_FIELDS) {
      if (f.secret && (profile as Record<string, unknown>)[f.key] !== undefined)
        found.push(`profiles.${name}.${snakeCase(f.key)}`);
    }
  }
  return found;
}

/**
 * As ssh does for its keys: a config file holding a secret inline that others may read is worth a warning (it is
 * not refused: the secret has been exposed already, and refusing would only break the run).
 */
async function warnIfSecretsExposed(config: HpauthConfig, io: CommandIO, options: GlobalOptions): Promise<void> {
  const secrets = inlineSecrets(config);
  if (secrets.length === 0) return;
  const mode = await stat(config.path).then(
    (s) => s.mode & 0o777,
    () => undefined,
  );
  if (mode === undefined || (mode & 0o077) === 0) return;
  const who = mode & 0o007 ? "everyone on this machine" : "its group";
  warn(
    io,
    options,
    `Warning: ${config.path} holds a secret (${secrets.join(", ")}) and is open to ${who} (mode ${mode.toString(8).padStart(4, "0")}). Run: chmod 600 ${config.path} (or move the secret to client_secret_env / password_env).`,
  );
}

export async function resolveCliProfile(
  options: GlobalOptions,
  io: CommandIO,
  config?: HpauthConfig,
): Promise<ResolvedConfigProfile & { config: HpauthConfig }> {
  const cfg = config ?? (await loadCliConfig(options, io));
  const resolved = resolveProfile({ config: cfg, flags: options.fields, env: io.env, profileName: options.profile });
  for (const w of resolved.warnings) warn(io, options, w);
  return { ...resolved, config: cfg };
}

/**
 * The one place the CLI creates token stores: `--store` / HPAUTH_STORE (`file`, the default; `memory`; or a
 * `redis://` / `rediss://` URL), the file store in `--store-dir` / HPAUTH_STORE_DIR / the platform default.
 */
export function openStore(
  options: GlobalOptions,
  io: CommandIO,
  platform: CliPlatform = hostPlatform(),
  config?: HpauthConfig,
): TokenStore {
  const env = io.env.HPAUTH_STORE;
  const fromConfig = config?.store?.url;
  const kind =
    options.store ?? (env ? parseStore(env, "HPAUTH_STORE") : fromConfig ? parseStore(fromConfig, "store") : "file");
  if (kind === "memory") return new MemoryTokenStore();
  if (kind !== "file") {
    // A redis:// or rediss:// URL (parseStore allows nothing else); the client loads on first use.
    return openCliRedisStore({
      url: kind,
      source: options.store ? "--store" : env ? "HPAUTH_STORE" : "config",
      ...(config?.store ? { config: config.store } : {}),
      env: io.env,
      onWarning: (m) => warn(io, options, `Warning: ${redact(m)}`),
      ...(options.verbose
        ? {
            onVerbose: (m: string) => {
              clearProgress(io);
              io.stderr.write(`${redact(m)}\n`);
            },
          }
        : {}),
    });
  }
  const dir =
    options.storeDir || io.env.HPAUTH_STORE_DIR || defaultTokenDir(io.env, platform.platform, platform.homedir);
  // The store names files and keys in its warnings, never token values; redact() is a second look all the same.
  return new FileTokenStore({ dir, onWarning: (m) => warn(io, options, `Warning: ${redact(m)}`) });
}

/**
 * One line per engine event (already redacted by the engine; redact() again, cheaply, in case). Each part is
 * redacted on its own before the line is assembled: the `key=value` pairs built here are structure, and a field
 * such as `code=ECONNREFUSED` must not be taken for an OAuth `code=` parameter.
 */
export function formatEvent(e: EngineEvent): string {
  const { type, message, profile, provider: _provider, ...rest } = e;
  const extra = Object.entries(rest)
    .filter(([, v]) => v !== undefined && (typeof v !== "object" || v === null))
    .map(([k, v]) => `${k}=${redact(String(v))}`)
    .join(" ");
  return `[hpauth] ${type}${profile ? ` ${redact(profile)}` : ""}: ${redact(message)}${extra ? ` (${extra})` : ""}`;
}

export function verboseLogger(options: GlobalOptions, io: CommandIO): ((e: EngineEvent) => void) | undefined {
  if (!options.verbose) return undefined;
  return (e) => {
    clearProgress(io);
    io.stderr.write(`${formatEvent(e)}\n`);
  };
}

/** What a terminal user sees while the engine works: sign-in, waits for a lock, retries. */
function progressFor(e: EngineEvent): string | undefined {
  const title = e.provider ? getProvider(e.provider).title : "the identity service";
  switch (e.type) {
    case "login_start":
      return `Signing in to ${title}…`;
    case "lock_wait":
      return `Waiting for another hpauth process using profile ${e.profile ?? ""}…`;
    case "retry":
      return `${title}: ${typeof e.status === "number" ? `HTTP ${e.status}` : String(e.code ?? "error")}; retrying (attempt ${String(e.attempt ?? "?")})…`;
    case "waiting_answer":
      return `${title} is slow to answer; waiting (a refresh is not sent twice)…`;
    case "grant_dead":
      return "The refresh token was refused; signing in again…";
    default:
      return undefined;
  }
}

export function makeManager(
  options: GlobalOptions,
  io: CommandIO,
  profile: NamedProfile,
  store: TokenStore,
  extra: { authorizer?: InteractiveAuthorizer; onEvent?: (e: EngineEvent) => void } = {},
): TokenManager {
  const verbose = verboseLogger(options, io);
  const progress = progressEnabled(options, io);
  const display = verbose
    ? verbose
    : progress
      ? (e: EngineEvent) => {
          const text = progressFor(e);
          if (text) showProgress(io, text);
        }
      : undefined;
  const own = extra.onEvent;
  const onEvent =
    display && own
      ? (e: EngineEvent) => {
          display(e);
          own(e);
        }
      : (display ?? own);
  return createTokenManager({
    profile,
    store,
    runtime: { env: io.env },
    ...(onEvent ? { onEvent } : {}),
    ...(extra.authorizer ? { authorizer: extra.authorizer } : {}),
  });
}
