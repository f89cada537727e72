/**
 * What most commands need, built from the global options: the config file, the selected profile, the token store
 * and a TokenManager whose events go to stderr under --verbose.
 */
import { homedir } from "node:os";
import { type HpauthConfig, loadConfigFile } from "../config/load.js";
import { locateConfig } from "../config/paths.js";
import { type ResolvedConfigProfile, resolveProfile } from "../config/resolve.js";
import { HpauthError } from "../engine/errors.js";
import type { EngineEvent, InteractiveAuthorizer, NamedProfile } from "../engine/types.js";
import { MemoryTokenStore } from "../stores/memory.js";
import type { TokenStore } from "../stores/types.js";
import { createTokenManager, defaultTokenDir, FileTokenStore, type TokenManager } from "./engine.js";
import type { CommandIO } from "./io.js";
import type { GlobalOptions } from "./options.js";
import { redactText } from "./redact.js";

export interface CliPlatform {
  platform: NodeJS.Platform;
  homedir: string;
}

export function hostPlatform(): CliPlatform {
  return { platform: process.platform, homedir: homedir() };
}

/** Warnings go to stderr unless --quiet. */
export function warn(io: CommandIO, options: GlobalOptions, message: string): void {
  if (!options.quiet) io.stderr.write(`${message}\n`);
}

export async function loadCliConfig(
  options: GlobalOptions,
  io: CommandIO,
  platform: CliPlatform = hostPlatform(),
): Promise<HpauthConfig> {
  const loc = locateConfig(options.config, io.env, platform.platform, platform.homedir);
  const config = await loadConfigFile(loc.path, loc.origin !== "default");
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

/** `--store memory`, else a FileTokenStore in `--store-dir` / HPAUTH_STORE_DIR / the platform default. */
export function openStore(options: GlobalOptions, io: CommandIO, platform: CliPlatform = hostPlatform()): TokenStore {
  const kind = options.store ?? io.env.HPAUTH_STORE ?? "file";
  if (kind === "memory") return new MemoryTokenStore();
  if (kind !== "file") throw new HpauthError("USAGE", `Unknown token store "${kind}" (use file or memory)`);
  const dir =
    options.storeDir || io.env.HPAUTH_STORE_DIR || defaultTokenDir(io.env, platform.platform, platform.homedir);
  return new FileTokenStore({ dir });
}

/** One line per engine event on stderr under --verbose; the engine redacts, redactText double-checks. */
export function verboseLogger(options: GlobalOptions, io: CommandIO): ((e: EngineEvent) => void) | undefined {
  if (!options.verbose) return undefined;
  return (e) => {
    const { type, message, profile, provider, ...rest } = e;
    const extra = Object.entries(rest)
      .filter(([, v]) => v !== undefined && (typeof v !== "object" || v === null))
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(" ");
    io.stderr.write(
      `${redactText(`[hpauth] ${type}${profile ? ` ${profile}` : ""}: ${message}${extra ? ` (${extra})` : ""}`)}\n`,
    );
  };
}

export function makeManager(
  options: GlobalOptions,
  io: CommandIO,
  profile: NamedProfile,
  store: TokenStore,
  extra: { authorizer?: InteractiveAuthorizer } = {},
): TokenManager {
  const onEvent = verboseLogger(options, io);
  return createTokenManager({
    profile,
    store,
    runtime: { env: io.env },
    ...(onEvent ? { onEvent } : {}),
    ...(extra.authorizer ? { authorizer: extra.authorizer } : {}),
  });
}
