/**
 * The cached-token probe: answers `hpauth token|header …` when the file store already holds a token the full CLI
 * would serve from its cache, and declines everything else. bin/hpauth.js runs it (bundled alone as
 * dist/probe.cjs: CommonJS, synchronous, no node:crypto) before loading the full CLI (dist/cli.js, ES modules,
 * async), so a cached call costs little more than starting Node (BENCHMARKS.md, "Cached `hpauth token`").
 *
 * Rules, checked by test/cli/probe.test.ts, which runs both paths on the same cases:
 * - Same decisions, same bytes: the probe uses the full path's own code for every step — the commander-free argv
 *   parser, config location, parsing and validation, profile resolution, the store kind, the file store's names,
 *   envelope and record checks (src/stores/file-names.ts, record.ts), the engine's profile validation, credential
 *   key and freshness rule (src/engine/fresh.ts), and the `token`/`header` output (commands/token-core.ts).
 * - Read-only: it never writes, locks, refreshes or repairs anything, and never prints an error or a warning.
 *   Whenever the full path would do any of that — or could, or the probe is not sure — it returns undefined and
 *   the full CLI runs as if the probe did not exist: a missing, expired or near-expiry token (judged with the
 *   largest refresh jitter, so a token the engine might refresh is never served here), any warning (config file,
 *   profile, secret as a flag, exposed inline secret, a loose token file or directory, a --min-ttl to cap),
 *   --verbose, --force-refresh, a store other than `file`, a YAML config (its parser is not bundled here), a
 *   damaged or salvageable record, a record of another key, a refresh marker, a lock, a temp file or a lock
 *   leftover in the token directory (the store would recover, sweep or wait), and any error at all.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import {
  formatFor,
  type HpauthConfig,
  inlineSecrets,
  missingConfig,
  parseConfigWith,
  secretsExposedWarning,
  type TextParser,
} from "../config/load.js";
import { locateConfig } from "../config/paths.js";
import { resolveProfile } from "../config/resolve.js";
import { DEFAULT_MARGIN_SECONDS, isFresh, MAX_JITTER, recordToken } from "../engine/fresh.js";
import { credentialKey, validateProfile } from "../engine/profile.js";
import { baseName, isLockLeftover, parseFile, TEMP_FILE, tokenDirFor } from "../stores/file-names.js";
import { checkRecord } from "../stores/record.js";
import type { TokenRecord } from "../stores/types.js";
import { type Program, parseFast } from "./argv.js";
import { header, token } from "./commands/token.def.js";
import { capMinTtl, recordLifetime, tokenOutput } from "./commands/token-core.js";
import { storeKind } from "./globals.js";
import type { TokenOptions } from "./options.js";

type Env = Readonly<Record<string, string | undefined>>;

// Only the commands the probe answers: the parser returns undefined for any other, as it does for the full list.
const PROGRAM: Program = { version: "", description: "", commands: [token, header] };
const IS_WINDOWS = process.platform === "win32";
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** The probe's reads, synchronous (the host's file system, or warm()'s files in memory). */
interface Reader {
  /** The file's text; throws as readFileSync does (`code` ENOENT, …). */
  text(path: string): string;
  exists(path: string): boolean;
  /** Permission bits, or undefined when it cannot be stat'ed. */
  mode(path: string): number | undefined;
  dir(path: string): { isDirectory: boolean; uid: number; mode: number; names: string[] };
  /** A file opened without following a symbolic link: its owner, mode and text. */
  privateFile(path: string): { uid: number; mode: number; text: string };
  uid: number | undefined;
  now(): number;
}

const host: Reader = {
  text: (path) => readFileSync(path, "utf8"),
  exists: existsSync,
  mode: (path) => {
    try {
      return statSync(path).mode & 0o777;
    } catch {
      return undefined;
    }
  },
  dir: (path) => {
    const st = statSync(path);
    return { isDirectory: st.isDirectory(), uid: st.uid, mode: st.mode, names: readdirSync(path) };
  },
  privateFile: (path) => {
    const fd = openSync(path, constants.O_RDONLY | O_NOFOLLOW);
    try {
      const st = fstatSync(fd);
      return { uid: st.uid, mode: st.mode, text: readFileSync(fd, "utf8") };
    } finally {
      closeSync(fd);
    }
  },
  uid: IS_WINDOWS ? undefined : process.geteuid?.(),
  now: Date.now,
};

/** What the full CLI would print on stdout for this argv (exit 0, nothing on stderr), or undefined: run it. */
export function probe(argv: readonly string[], env: Env): string | undefined {
  try {
    return answer(argv, env, host);
  } catch {
    return undefined;
  }
}

/**
 * Runs the probe's whole path on files in memory (a TOML and a JSON config, flags, a cached record), so that the V8
 * code cache bin/hpauth.js makes after a run holds compiled code for every form, not only the one that ran.
 */
export function warm(): void {
  const fields = { provider: "greenlake", baseUrl: "https://127.0.0.1:1", clientId: "warm", clientSecretEnv: "W" };
  const key = credentialKey(validateProfile({ ...fields, name: "w" } as never));
  const now = Date.now();
  const record = {
    v: 1,
    provider: "greenlake",
    accessToken: "t",
    expiresAt: now + 3_600_000,
    obtainedAt: now,
    updatedAt: now,
  };
  const files = new Map<string, string>([
    [
      "/h/.config/hpauth/config.toml",
      `default_profile = "w"\n\n[profiles.w]\nprovider = "greenlake"\nbase_url = "${fields.baseUrl}"\nclient_id = "warm"\nclient_secret_env = "W"\n`,
    ],
    [
      "/h/w.json",
      JSON.stringify({
        profiles: { w: { provider: "greenlake", base_url: fields.baseUrl, client_id: "warm", client_secret_env: "W" } },
      }),
    ],
  ]);
  const dir = "/h/.local/share/hpauth/tokens";
  const recordFile = join(dir, `${baseName(key)}.json`);
  const memory: Reader = {
    text: (path) => {
      const t = files.get(path);
      if (t === undefined) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return t;
    },
    exists: (path) => files.has(path),
    mode: () => 0o600,
    dir: () => ({ isDirectory: true, uid: 0, mode: 0o40700, names: [`${baseName(key)}.json`] }),
    privateFile: (path) => {
      if (path !== recordFile) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return { uid: 0, mode: 0o100600, text: `${JSON.stringify({ v: 1, key, prev: null, record }, null, 2)}\n` };
    },
    uid: 0,
    now: () => now,
  };
  const env = { HOME: "/h", USERPROFILE: "/h" };
  const flags = [
    "--provider",
    "greenlake",
    "--base-url",
    fields.baseUrl,
    "--client-id",
    "warm",
    "--client-secret-env",
    "W",
  ];
  for (const argv of [
    ["token"],
    ["token", "-p", "w", "--json"],
    ["header", "--profile=w", "--min-ttl", "60"],
    ["header", "--json", "-c", "/h/w.json"],
    ["token", ...flags, "--store-dir", dir],
  ]) {
    try {
      answer(argv, env, memory);
    } catch {
      // Only compiling matters here.
    }
  }
}

function answer(argv: readonly string[], env: Env, fs: Reader): string | undefined {
  const parsed = parseFast(PROGRAM, argv);
  if (!parsed || (parsed.command !== "token" && parsed.command !== "header")) return undefined;
  const options = parsed.options as unknown as TokenOptions;
  if (options.verbose || options.forceRefresh) return undefined;
  // --format raw|json print what tokenOutput prints; every other format (az, exec-credential, bazel, env, header)
  // is the full CLI's (src/cli/token-formats.ts).
  if (options.format !== undefined && options.format !== "raw" && options.format !== "json") return undefined;

  // os.homedir() is $HOME (%USERPROFILE% on Windows) when set, as libuv documents; without it, the full CLI asks.
  const home = env[IS_WINDOWS ? "USERPROFILE" : "HOME"];
  if (home === undefined) return undefined;
  const config = readConfig(options, env, home, fs);
  if (!config) return undefined;
  const resolved = resolveProfile({ config, flags: options.fields, env, profileName: options.profile });
  if (resolved.warnings.length > 0) return undefined;
  if (storeKind(options, env, config) !== "file") return undefined;
  const dir = options.storeDir || env.HPAUTH_STORE_DIR || tokenDirFor(env, process.platform, home);
  const profile = validateProfile(resolved.profile);
  const rec = readCachedRecord(dir, credentialKey(profile), fs);
  if (!rec) return undefined;

  const asked = options.minTtl;
  if (asked !== undefined && capMinTtl(asked, recordLifetime(rec)).capped) return undefined; // the full path warns
  const minTtlMs = Math.max(0, (asked ?? 0) * 1000);
  if (!isFresh(rec, fs.now(), minTtlMs, DEFAULT_MARGIN_SECONDS * 1000, MAX_JITTER)) return undefined;
  return tokenOutput(parsed.command, options.json, recordToken(rec, "cache", profile));
}

/** The config file as loadCliConfig reads it, or undefined where that would warn, fail or need another parser. */
function readConfig(options: TokenOptions, env: Env, home: string, fs: Reader): HpauthConfig | undefined {
  const loc = locateConfig(options.config, env, process.platform, home, fs.exists);
  let text: string;
  try {
    text = fs.text(loc.path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && loc.origin === "default") return missingConfig(loc.path);
    return undefined;
  }
  const format = formatFor(loc.path);
  // JSON.parse gives the value parseJson gives (that one only adds a better message to a failure).
  const parse: TextParser | undefined = format === "toml" ? parseToml : format === "json" ? JSON.parse : undefined;
  if (!parse) return undefined;
  const config = parseConfigWith(text, loc.path, format, parse);
  if (config.warnings.length > 0) return undefined;
  if (!IS_WINDOWS && inlineSecrets(config).length > 0 && secretsExposedWarning(config, fs.mode(config.path))) {
    return undefined;
  }
  return config;
}

/**
 * The record FileTokenStore.get would return for `key` without a warning, when the store would do nothing else on
 * the way (create or tighten the directory, sweep temp files or leftovers) and no other process is at work on it.
 */
function readCachedRecord(dir: string, key: string, fs: Reader): TokenRecord | undefined {
  const st = fs.dir(dir);
  if (!st.isDirectory) return undefined;
  const mine = (o: { uid: number; mode: number }) =>
    IS_WINDOWS || ((fs.uid === undefined || o.uid === fs.uid) && (o.mode & 0o077) === 0);
  if (!mine(st)) return undefined;
  const base = baseName(key);
  for (const name of st.names) {
    if (name === `${base}.lock` || isLockLeftover(name) || TEMP_FILE.test(name)) return undefined;
  }
  const file = fs.privateFile(join(dir, `${base}.json`));
  if (!mine(file)) return undefined;
  const text = file.text;
  const parsed = parseFile(text);
  if (parsed.kind !== "ok" || parsed.key !== key) return undefined;
  const checked = checkRecord(parsed.record);
  if (checked.kind !== "ok") return undefined;
  // A refresh whose answer was lost: the engine still serves the token, but the probe leaves such a record alone.
  if (checked.record.refreshPendingSince !== undefined) return undefined;
  return checked.record;
}
