/**
 * `hpauth git-credential get|store|erase`: a Git credential helper (gitcredentials(7), git-credential(1)) for Git
 * services over HTTPS that take an OAuth bearer token. git writes `key=value` lines on stdin and reads the same
 * on stdout; unknown keys are ignored both ways, so one answer serves every git version:
 * - `username` + `password` (= the token) for HTTP Basic, which every git speaks, with `password_expiry_utc`
 *   (git ≥ 2.41 then never reuses an expired token from a storage helper);
 * - `authtype=Bearer` + `credential` (git ≥ 2.46) only when git's input announced `capability[]=authtype`, and
 *   (in --auth auto) the server's `wwwauth[]` challenges include Bearer; marked `ephemeral`, as it expires.
 * `store` does nothing (hpauth keeps its own tokens); `erase` — git's reaction to a refused credential — marks the
 * token invalid if it is the one stored, so the next `get` renews it (one refresh, not a new login).
 */
import type { HpauthConfig } from "../../config/load.js";
import { HpauthError } from "../../engine/errors.js";
import type { AccessToken } from "../../engine/types.js";
import { clearProgress, loadCliConfig, makeManager, openStore, resolveCliProfile, warn } from "../context.js";
import type { CommandIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { assertHeaderSafe } from "../token-formats.js";

export interface GitCredentialOptions extends GlobalOptions {
  action: "get" | "store" | "erase";
  /** auto: Bearer when git announces capability[]=authtype and the server offers Bearer; else Basic. */
  auth: "auto" | "basic" | "bearer";
  gitUsername?: string;
  minTtl?: number;
}

/** git's credential description: single keys, and the `key[]` ones (capability[], wwwauth[], state[]) as lists. */
export interface GitCredentialInput {
  single: Record<string, string>;
  multi: Record<string, string[]>;
}

/**
 * Parses git's `key=value` lines up to a blank line or the end. A value runs to the end of its line and may hold
 * `=`; a line without `=` is skipped (git would refuse it; a helper is better off ignoring it).
 */
export function parseGitCredentialInput(text: string): GitCredentialInput {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const line of text.split("\n")) {
    if (line === "") break;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key.endsWith("[]")) {
      const name = key.slice(0, -2);
      const list = multi[name] ?? [];
      multi[name] = list;
      if (value === "")
        list.length = 0; // an empty value resets a list (git-credential(1))
      else list.push(value);
    } else {
      single[key] = value;
    }
  }
  return { single, multi };
}

/** Lines git must not misread: a value with a newline (or NUL) would be a second attribute. */
function line(key: string, value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new HpauthError("USAGE", `git-credential: the ${key} holds a line break or NUL, which git cannot take`);
  }
  return `${key}=${value}\n`;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** The host without a port, for the loopback check (`host` may be `name:port` or `[v6]:port`). */
function hostname(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  return host.replace(/:\d+$/, "");
}

async function readAll(io: CommandIO): Promise<string> {
  let text = "";
  for await (const chunk of io.stdin.iterator({ destroyOnReturn: false })) {
    text += String(chunk);
    if (text.length > 1_048_576) break; // git's descriptions are a few lines
  }
  return text;
}

/**
 * Which profile answers for this request: -p (or profile fields given as flags) as the user scoped it in git's
 * config; else the config's `[git_credential."<host>"]` entry; else none (the helper stays silent and git asks its
 * other helpers or the user). Never the default profile: a helper set for every host must not hand a token to any.
 */
async function chooseProfile(
  options: GitCredentialOptions,
  io: CommandIO,
  input: GitCredentialInput,
): Promise<{ options: GitCredentialOptions; username?: string; config?: HpauthConfig } | undefined> {
  if (options.profile !== undefined || Object.keys(options.fields).length > 0) return { options };
  const host = input.single.host?.toLowerCase();
  if (!host) return undefined;
  const config = await loadCliConfig(options, io);
  const entry = config.gitCredential?.[host];
  if (!entry) {
    if (options.verbose) io.stderr.write(`hpauth git-credential: no git_credential entry for ${host}; not answering\n`);
    return undefined;
  }
  return {
    options: { ...options, profile: entry.profile },
    config,
    ...(entry.username ? { username: entry.username } : {}),
  };
}

function answer(
  token: AccessToken,
  input: GitCredentialInput,
  options: GitCredentialOptions,
  username: string | undefined,
  io: CommandIO,
): string {
  const expiry = line("password_expiry_utc", String(Math.floor(token.expiresAt.getTime() / 1000)));
  const capable = input.multi.capability?.includes("authtype") === true;
  const serverBearer = (input.multi.wwwauth ?? []).some((c) => /^bearer\b/i.test(c.trim()));
  const bearer = capable && (options.auth === "bearer" || (options.auth === "auto" && serverBearer));
  if (options.auth === "bearer" && !capable) {
    warn(
      io,
      options,
      "Warning: --auth bearer needs git 2.46 or later (capability[]=authtype); sending the token as a Basic password.",
    );
  }
  if (bearer) {
    return (
      line("capability[]", "authtype") +
      line("authtype", "Bearer") +
      line("credential", token.accessToken) +
      line("ephemeral", "true") +
      expiry
    );
  }
  const user = input.single.username || options.gitUsername || username || "x-access-token";
  return line("username", user) + line("password", token.accessToken) + expiry;
}

export async function runGitCredential(options: GitCredentialOptions, io: CommandIO): Promise<number> {
  const input = parseGitCredentialInput(await readAll(io));
  if (options.action === "store") return 0;

  const protocol = input.single.protocol;
  const host = input.single.host ?? "";
  if (protocol !== "https" && !(protocol === "http" && LOOPBACK.has(hostname(host).toLowerCase()))) {
    if (protocol === "http") {
      warn(io, options, `hpauth git-credential: not sending a token over plain http to ${host}; use https.`);
    }
    return 0; // another protocol (or none): not ours to answer
  }
  const chosen = await chooseProfile(options, io, input);
  if (!chosen) return 0;

  const { profile, config } = await resolveCliProfile(chosen.options, io, chosen.config);
  const store = openStore(chosen.options, io, undefined, config);
  try {
    // git runs helpers without a terminal for them: a needed login is reported (exit 3), never started here.
    const manager = makeManager(chosen.options, io, profile, store);
    if (options.action === "erase") {
      const refused = input.single.credential ?? input.single.password;
      if (refused) await manager.invalidate(refused);
      return 0;
    }
    const token = await manager.getToken({
      ...(options.minTtl !== undefined ? { minTtlSeconds: options.minTtl } : {}),
      signal: io.signal,
    });
    assertHeaderSafe(token);
    io.stdout.write(answer(token, input, options, chosen.username, io));
    return 0;
  } finally {
    await store.close?.();
    clearProgress(io);
  }
}
