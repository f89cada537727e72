/**
 * What most commands need, built from the global options: the config file, the selected profile, the token store
 * (its warnings on stderr) and a TokenManager whose events become --verbose lines and, on a terminal, progress.
 */
import { homedir } from "node:os";
import { type HpauthConfig, loadConfigFile } from "../config/load.js";
import { locateConfig } from "../config/paths.js";
import { type ResolvedConfigProfile, resolveProfile } from "../config/resolve.js";
import { HpauthError } from "../engine/errors.js";
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
  return config;
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
export function openStore(options: GlobalOptions, io: CommandIO, platform: CliPlatform = hostPlatform()): TokenStore {
  const env = io.env.HPAUTH_STORE;
  const kind = options.store ?? (env ? parseStore(env, "HPAUTH_STORE") : "file");
  if (kind === "memory") return new MemoryTokenStore();
  if (kind !== "file") {
    // A redis:// or rediss:// URL (parseStore allows nothing else).
    throw new HpauthError("USAGE", "The Redis store is not available in this build of hpauth", {
      hint: "Use --store file (the default) or --store memory.",
    });
  }
  const dir =
    options.storeDir || io.env.HPAUTH_STORE_DIR || defaultTokenDir(io.env, platform.platform, platform.homedir);
  // The store names files and keys in its warnings, never token values; redact() is a second look all the same.
  return new FileTokenStore({ dir, onWarning: (m) => warn(io, options, `Warning: ${redact(m)}`) });
}

/** One line per engine event (already redacted by the engine; redact() again, cheaply, in case). */
export function formatEvent(e: EngineEvent): string {
  const { type, message, profile, provider: _provider, ...rest } = e;
  const extra = Object.entries(rest)
    .filter(([, v]) => v !== undefined && (typeof v !== "object" || v === null))
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
  return redact(`[hpauth] ${type}${profile ? ` ${profile}` : ""}: ${message}${extra ? ` (${extra})` : ""}`);
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
