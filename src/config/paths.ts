/** Where hpauth looks for its config file, per platform (the XDG / Application Support / %APPDATA% conventions). */
import { existsSync } from "node:fs";
import { join } from "node:path";

export const CONFIG_FILE_NAMES = ["config.toml", "config.yaml", "config.yml", "config.json"] as const;

type Env = Readonly<Record<string, string | undefined>>;

/** The directory holding hpauth's config file on this platform. */
export function defaultConfigDir(env: Env, platform: NodeJS.Platform, homedir: string): string {
  if (platform === "win32") {
    return join(env.APPDATA || join(homedir, "AppData", "Roaming"), "hpauth");
  }
  if (platform === "darwin" && !env.XDG_CONFIG_HOME) {
    return join(homedir, "Library", "Application Support", "hpauth");
  }
  return join(env.XDG_CONFIG_HOME || join(homedir, ".config"), "hpauth");
}

export interface ConfigLocation {
  path: string;
  /** Where the path came from: a flag and HPAUTH_CONFIG must exist; the platform default may be absent. */
  origin: "flag" | "env" | "default";
}

/**
 * `--config`, else HPAUTH_CONFIG, else the first existing config.{toml,yaml,yml,json} in the platform's config dir
 * (config.toml there if none exists yet, which is where `profiles add` creates one).
 */
export function locateConfig(
  flag: string | undefined,
  env: Env,
  platform: NodeJS.Platform,
  homedir: string,
  exists: (p: string) => boolean = existsSync,
): ConfigLocation {
  if (flag) return { path: flag, origin: "flag" };
  if (env.HPAUTH_CONFIG) return { path: env.HPAUTH_CONFIG, origin: "env" };
  const dir = defaultConfigDir(env, platform, homedir);
  for (const name of CONFIG_FILE_NAMES) {
    const p = join(dir, name);
    if (exists(p)) return { path: p, origin: "default" };
  }
  return { path: join(dir, "config.toml"), origin: "default" };
}
