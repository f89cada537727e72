/**
 * `hpauth`: the list of commands and the top-level error handling. Each command's definition (src/cli/commands/
 * <name>.def.ts) owns its flags, help, examples and option mapping and loads its runner lazily, so a command pays
 * only for what it uses; argv.ts parses (a plain `hpauth token|header …` without commander, which is then never
 * loaded); errors become exit codes once, here.
 */
import { ExitCode, HpauthError, isHpauthError } from "../engine/errors.js";
import { withConfigKeys } from "../engine/field-names.js";
import { redact } from "../engine/redact.js";
import { findCommand, loadCommander, type ParsedArgv, type Program, parse, parseFast } from "./argv.js";
import type { AnyCommandDef } from "./command.js";
import { completion } from "./commands/completion.def.js";
import { curl } from "./commands/curl.def.js";
import { demo } from "./commands/demo.def.js";
import { doctor } from "./commands/doctor.def.js";
import { emulate } from "./commands/emulate.def.js";
import { exec } from "./commands/exec.def.js";
import { gitCredential } from "./commands/git-credential.def.js";
import { inspect } from "./commands/inspect.def.js";
import { keepalive } from "./commands/keepalive.def.js";
import { login } from "./commands/login.def.js";
import { logout } from "./commands/logout.def.js";
import { profiles } from "./commands/profiles.def.js";
import { proxy } from "./commands/proxy.def.js";
import { request } from "./commands/request.def.js";
import { status } from "./commands/status.def.js";
import { header, token } from "./commands/token.def.js";
import type { CommandIO } from "./io.js";
import { clearProgress } from "./progress.js";
import { formatWhen } from "./time.js";

export const VERSION = "0.1.0";

/** Every command, in the order `hpauth --help` lists them. A new command: add its definition here. */
export const COMMANDS: readonly AnyCommandDef[] = [
  token,
  header,
  request,
  curl,
  exec,
  status,
  doctor,
  keepalive,
  inspect,
  logout,
  profiles,
  login,
  proxy,
  gitCredential,
  emulate,
  demo,
  completion,
];

const PROGRAM: Program = {
  version: VERSION,
  description:
    "OAuth 2.0 access tokens for HP and HPE APIs: TechPulse, WXP, GreenLake DSCC, Aruba Central, HPE Identity, " +
    "the GreenLake platform and new Central.",
  commands: COMMANDS,
};

export type { ParsedArgv };

/**
 * argv (without node and script) → the command and its typed options. Throws HpauthError("USAGE").
 * `viaCommander` skips the commander-free fast path (tests compare the two).
 */
export function parseArgv(argv: readonly string[], viaCommander = false): ParsedArgv {
  return parse(PROGRAM, argv, viaCommander);
}

/** `argv` parsed without commander (a plain `token` / `header`), or undefined when commander must parse it. */
export function fastTokenArgv(argv: readonly string[]): ParsedArgv | undefined {
  return parseFast(PROGRAM, argv);
}

/** Runs the CLI with injected IO; returns the exit code. Errors are caught here, once. */
export async function main(argv: readonly string[], io: CommandIO): Promise<number> {
  let wantsJson = argv.includes("--json");
  try {
    // Shell completion's callback (`hpauth completion`'s scripts): hidden, and never an error on stderr.
    if (argv[0] === "__complete") return await (await import("./complete.js")).complete(PROGRAM, argv.slice(1), io);
    let parsed = fastTokenArgv(argv);
    if (!parsed) {
      await loadCommander();
      parsed = parseArgv(argv, true);
    }
    wantsJson ||= parsed.options.json; // `token --format json` is --json, errors included
    if (parsed.command === "help" || parsed.command === "version") {
      // Help asked for goes to stdout; help shown because something was missing goes to stderr.
      (parsed.options.usageError ? io.stderr : io.stdout).write(parsed.text ?? "");
      return parsed.options.usageError ? ExitCode.USAGE : ExitCode.OK;
    }
    const def = findCommand(PROGRAM, parsed.command);
    if (!def) throw new HpauthError("USAGE", `Unknown command "${parsed.command}"`);
    const run = await def.load();
    return await run(parsed.options as never, io);
  } catch (e) {
    return reportError(e, io, wantsJson);
  }
}

/**
 * Last line of defence for messages hpauth did not build (a bug's TypeError, a library's error): besides the engine's
 * redaction, any long unbroken run of token characters is masked, since a stray opaque token has no other shape to
 * recognise. Not applied to HpauthErrors: the engine built and redacted those, and they name UUID-like client ids and
 * file names that this rule would shred.
 */
export function redactUnknown(text: string): string {
  return redact(text).replace(/\b[A-Za-z0-9_-]{32,}\b/g, "[redacted]");
}

/** Formats a thrown error for the user and returns the exit code. Never prints a stack. */
export function reportError(e: unknown, io: CommandIO, json: boolean): number {
  if (io.signal.aborted && !isHpauthError(e)) {
    e = new HpauthError("CANCELLED", "Cancelled", { cause: e });
  }
  clearProgress(io);
  if (isHpauthError(e)) {
    // Profile fields are named as the user writes them (client_secret_env): in every hint (hpauth's own words), and
    // in the message of a usage/config error (exit 2; other messages may quote a server, left as they are).
    const message = redact(e.exitCode === ExitCode.USAGE ? withConfigKeys(e.message) : e.message);
    const hint = e.hint ? redact(withConfigKeys(e.hint)) : undefined;
    const lines = [`hpauth: ${message}`];
    if (e.retryAt) lines.push(`Retry after ${formatWhen(e.retryAt)}.`);
    if (hint) lines.push(hint);
    io.stderr.write(`${lines.join("\n")}\n`);
    if (json) {
      io.stdout.write(`${JSON.stringify({ error: { ...e.toJSON(), message, ...(hint ? { hint } : {}) } })}\n`);
    }
    return e.exitCode;
  }
  const name = e instanceof Error ? e.name : typeof e;
  const message = e instanceof Error ? e.message : String(e);
  io.stderr.write(
    `hpauth: internal error: ${name}: ${redactUnknown(message)}\nThis is a bug in hpauth; please report it with the command you ran (not your secrets).\n`,
  );
  if (json) {
    io.stdout.write(
      `${JSON.stringify({ error: { code: "INTERNAL", category: "internal", message: redactUnknown(message) } })}\n`,
    );
  }
  return ExitCode.INTERNAL;
}
