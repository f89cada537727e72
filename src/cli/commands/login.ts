/**
 * `hpauth login`: a browser login for providers that need a person (TechPulse, oauth2 authorization_code), the
 * import of a token pair made elsewhere (Aruba Central's UI: the only way in for SSO/MFA accounts), and for every
 * other provider a forced new grant through the engine, reported without the token.
 *
 * Options this command reads (./login.def.ts maps flags onto them; GlobalOptions as for every command):
 *   browser: false      --no-browser: print the URL and read the redirected address (or code) from stdin
 *   noBrowser: true     the same, spelled positively
 *   paste: true         --paste: the same as --no-browser
 *   port: number        --port N: fixed loopback port (for `ssh -L N:127.0.0.1:N`); else the profile's
 *                       callbackPort (--callback-port), else the registered redirect URI's, else ephemeral
 *   import: string      --import FILE|-: the token JSON (Aruba Central's download, or any access/refresh pair)
 *   importTokens: true  --import-tokens: the same as `--import -` (read from stdin)
 *   timeout: number     --timeout SECONDS: how long to wait for the browser (default 300)
 *   json: boolean       one JSON line on stdout (profile, provider, expires_at, expires_in, scope, source) — never
 *                       the token itself
 * Progress, prompts and the authorization URL go to stderr. Exit codes as for every command (errors thrown).
 */
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { HpauthError } from "../../engine/errors.js";
import { createLoopbackAuthorizer, DEFAULT_LOGIN_TIMEOUT_MS } from "../../engine/login/authorizer.js";
import { parseImportedTokens } from "../../engine/login/import.js";
import type { AccessToken, EngineEvent, InteractiveAuthorizer, NamedProfile } from "../../engine/types.js";
import { makeManager, openStore, resolveCliProfile } from "../context.js";
import type { CommandIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { progressEnabled } from "../progress.js";
import { formatWhen } from "../time.js";
import { tokenJson } from "./token.js";

export interface RunLoginOptions extends GlobalOptions {
  browser?: boolean;
  noBrowser?: boolean;
  paste?: boolean;
  port?: number;
  import?: string;
  importTokens?: boolean;
  /** Seconds. */
  timeout?: number;
}

/** Largest token file we read: Aruba's is well under 1 KiB; anything near this is not a token file. */
const MAX_IMPORT_BYTES = 256 * 1024;

/** Whether this profile's grant needs a person in a browser. */
export function needsBrowser(profile: NamedProfile): boolean {
  return (
    profile.provider === "techpulse" || (profile.provider === "oauth2" && profile.grantType === "authorization_code")
  );
}

/**
 * The authorizer the CLI uses (also for `hpauth token` when a login is needed): the terminal for progress and
 * paste-back, Ctrl-C via io.signal.
 */
export function createCliAuthorizer(
  options: Pick<RunLoginOptions, "browser" | "noBrowser" | "paste" | "port" | "timeout">,
  io: CommandIO,
  profile?: NamedProfile,
  extra: { openBrowser?: (url: string) => Promise<void> } = {},
): InteractiveAuthorizer {
  const paste = options.browser === false || options.noBrowser === true || options.paste === true;
  if (options.timeout !== undefined && !(Number.isFinite(options.timeout) && options.timeout > 0)) {
    throw new HpauthError("USAGE", "--timeout must be a positive number of seconds");
  }
  const port = options.port ?? profile?.callbackPort;
  return createLoopbackAuthorizer({
    mode: paste ? "paste" : "auto",
    input: io.stdin,
    output: io.stderr,
    outputIsTTY: io.stderrIsTTY,
    env: io.env,
    signal: io.signal,
    timeoutMs: options.timeout !== undefined ? Math.round(options.timeout * 1000) : DEFAULT_LOGIN_TIMEOUT_MS,
    ...(port !== undefined ? { port } : {}),
    ...(extra.openBrowser ? { openBrowser: extra.openBrowser } : {}),
  });
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_IMPORT_BYTES) throw new HpauthError("USAGE", "The token input is too large to be a token file");
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function readImport(source: string, io: CommandIO): Promise<string> {
  if (source === "-") {
    if (io.stdinIsTTY) io.stderr.write("Paste the token JSON, then press Ctrl-D (it is not echoed back later):\n");
    return readAll(io.stdin);
  }
  try {
    const buf = await readFile(source);
    if (buf.length > MAX_IMPORT_BYTES) throw new HpauthError("USAGE", `${source} is too large to be a token file`);
    return buf.toString("utf8");
  } catch (e) {
    if (e instanceof HpauthError) throw e;
    throw new HpauthError("USAGE", `Cannot read ${source}: ${(e as NodeJS.ErrnoException).code ?? "error"}`, {
      cause: e,
    });
  }
}

function report(options: RunLoginOptions, io: CommandIO, token: AccessToken, what: string): void {
  const now = Date.now();
  if (options.json) {
    // `hpauth token --json`'s shape, without the token itself: login reports, it does not hand out.
    const { access_token: _token, ...fields } = tokenJson(token, now);
    io.stdout.write(`${JSON.stringify({ ok: true, ...fields })}\n`);
  }
  if (!options.quiet) {
    const scope = token.scope ? `, scope ${token.scope}` : "";
    io.stderr.write(
      `${what} (${token.provider}, profile ${token.profile}): access token valid until ${formatWhen(token.expiresAt, now)}${scope}.\n`,
    );
  }
}

export async function runLogin(options: RunLoginOptions, io: CommandIO): Promise<number> {
  const startedAt = Date.now();
  const importSource = options.import ?? (options.importTokens ? "-" : undefined);
  // Read the import before the profile resolves: a bad file is a usage error whatever the profile says.
  const imported =
    importSource !== undefined ? parseImportedTokens(await readImport(importSource, io), startedAt) : undefined;

  const { profile } = await resolveCliProfile(options, io);
  const store = openStore(options, io);
  let announced = false;
  // Another process holds this credential's lock: most likely the same login in progress, whose result we take.
  // On a terminal the progress line says so; otherwise one plain line.
  const onEvent = (e: EngineEvent) => {
    if (e.type !== "lock_wait" || announced || options.quiet || progressEnabled(options, io)) return;
    announced = true;
    io.stderr.write(`Waiting for another hpauth login of profile ${profile.name} to finish…\n`);
  };
  try {
    if (imported) {
      const manager = makeManager(options, io, profile, store, { onEvent });
      const token = await manager.importTokens(imported);
      report(options, io, token, "Imported tokens; they will be kept alive by refresh");
      return 0;
    }
    const interactive = needsBrowser(profile);
    const manager = makeManager(options, io, profile, store, {
      onEvent,
      ...(interactive ? { authorizer: createCliAuthorizer(options, io, profile) } : {}),
    });
    // A login another process finished after we started is its answer to the same request: one tab, not N.
    const token = await manager.login({ signal: io.signal, unlessLoggedInSince: startedAt });
    const joined = token.source === "cache";
    report(
      options,
      io,
      token,
      joined ? "Logged in by another hpauth process meanwhile" : interactive ? "Logged in" : "New grant obtained",
    );
    return 0;
  } finally {
    await store.close?.();
  }
}
