/**
 * `hpauth`: parses argv with commander into typed options, imports the one command it needs lazily (so the cached
 * `hpauth token` path does not pay for the emulator or the demo), and turns errors into exit codes once, here.
 * A plain `hpauth token|header …` is parsed without commander (fastTokenArgv), which is then never loaded.
 */
import { createRequire } from "node:module";
import type { Command } from "commander";
import { flagName, PROFILE_FIELDS } from "../config/fields.js";
import { ExitCode, HpauthError, isHpauthError } from "../engine/errors.js";
import { redact } from "../engine/redact.js";
import type { RunEmulateOptions } from "./commands/emulate.js";
import type { RunLoginOptions } from "./commands/login.js";
import type { CommandIO } from "./io.js";
import type { GlobalOptions } from "./options.js";
import { clearProgress } from "./progress.js";
import { formatWhen } from "./time.js";

export const VERSION = "0.1.0";

type Commander = typeof import("commander");
let commanderModule: Commander | undefined;

/**
 * commander pulls in child_process, events and streams (~20 ms) and is ~125 KB of code to compile: a cached
 * `hpauth token`, which fastTokenArgv parses without it, should pay for neither. So main() imports it dynamically
 * (its own chunk in the CLI bundle) only when the fast path declines; parseArgv, synchronous, takes that copy, or
 * when called directly (tests, the unbundled tsc build) loads it from node_modules.
 */
function commander(): Commander {
  commanderModule ??= createRequire(import.meta.url)("commander") as Commander;
  return commanderModule;
}

async function loadCommander(): Promise<void> {
  commanderModule ??= (await import("commander")) as Commander;
}

export interface ParsedArgv {
  /** `token`, `profiles`, … or `help` / `version` when commander printed text instead of choosing a command. */
  command: string;
  options: GlobalOptions & Record<string, unknown>;
  /** Help or version text to print (command `help` / `version`). */
  text?: string;
}

const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    internal error (a bug: please report it)
  2    usage or configuration error (bad flag, missing profile field, unreadable secret)
  3    authentication refused or login required (bad credentials, revoked grant, consent denied)
  4    rate-limited (the message, and retry_at with --json, say when the next attempt is allowed)
  5    network or server failure (unreachable, 5xx after retries, malformed response, lock timeout)
  130  cancelled (Ctrl-C)

Environment:
  HPAUTH_CONFIG       config file (default: $XDG_CONFIG_HOME/hpauth/config.toml or the platform's config dir)
  HPAUTH_PROFILE      profile to use
  HPAUTH_STORE_DIR    token store directory
  HPAUTH_<FIELD>      any profile field, e.g. HPAUTH_CLIENT_ID, HPAUTH_BASE_URL, HPAUTH_CLIENT_SECRET_ENV
  Precedence: flags > environment > config file.

Examples:
  $ hpauth demo                                   # everything against a built-in emulator, no setup
  $ hpauth profiles add work                      # create a profile interactively
  $ curl -H "$(hpauth header -p work)" https://…  # call an API
  $ TOKEN=$(hpauth token --provider greenlake --client-id abc --client-secret-env GL_SECRET)
`;

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}

/** Builds the commander program; `onAction` receives the chosen command and its merged options. */
function buildProgram(onAction: (command: string, options: Record<string, unknown>) => void): Command {
  const { Command, Option } = commander();
  const program = new Command("hpauth")
    .description(
      "OAuth 2.0 access tokens for HP and HPE APIs: TechPulse, WXP, GreenLake DSCC, Aruba Central, HPE Identity.",
    )
    .version(VERSION, "-V, --version")
    .option("-c, --config <path>", "config file (default: HPAUTH_CONFIG or the platform config dir)")
    .option("-p, --profile <name>", "profile to use (default: HPAUTH_PROFILE, default_profile, or the only one)")
    .option("--json", "machine-readable output on stdout", false)
    .option("-v, --verbose", "engine events (redacted) on stderr", false)
    .option("-q, --quiet", "no warnings or progress on stderr", false)
    .option("--no-color", "no colours")
    .addOption(new Option("--store <kind>", "token store").choices(["file", "memory"]))
    .option("--store-dir <dir>", "token store directory (default: HPAUTH_STORE_DIR or the platform's state dir)");
  program.optionsGroup("Profile fields (override the config file and HPAUTH_* variables):");
  for (const field of PROFILE_FIELDS) {
    const flag = flagName(field.key);
    if (field.kind === "boolean") {
      program.addOption(new Option(flag, field.description));
      program.addOption(new Option(`--no-${flag.slice(2)}`, `do not ${field.key}`));
    } else if (field.kind === "record") {
      program.addOption(
        new Option(`${flag} <key=value...>`, field.description).argParser((v: string, prev: string[] | undefined) => [
          ...(prev ?? []),
          v,
        ]),
      );
    } else {
      program.addOption(new Option(`${flag} <value>`, field.description));
    }
  }
  program.addHelpText("after", EXIT_CODES_HELP);
  program.showSuggestionAfterError(true);

  const act = (name: string) =>
    function (this: Command, ...args: unknown[]) {
      const positional = args.slice(0, -2);
      const opts = this.optsWithGlobals();
      onAction(name, { ...opts, _args: positional });
    };

  program
    .command("token")
    .description("Print a valid access token for the profile (from the store, refreshed, or a new grant)")
    .option("--min-ttl <seconds>", "refresh unless the token stays valid at least this long", parseSeconds)
    .option("--force-refresh", "get a new token even if the stored one is valid", false)
    .addHelpText(
      "after",
      examples([
        "hpauth token -p aruba",
        "hpauth token --json | jq -r .expires_at",
        "hpauth token --provider greenlake --client-id abc --client-secret-env GL_SECRET",
        'curl -H "Authorization: Bearer $(hpauth token --min-ttl 300)" https://…',
      ]),
    )
    .action(act("token"));

  program
    .command("header")
    .description("Print an HTTP Authorization header line with a valid token")
    .option("--min-ttl <seconds>", "refresh unless the token stays valid at least this long", parseSeconds)
    .option("--force-refresh", "get a new token even if the stored one is valid", false)
    .addHelpText("after", examples(['curl -H "$(hpauth header -p work)" https://…', "hpauth header --json"]))
    .action(act("header"));

  program
    .command("status")
    .description("Show every profile: token state, time left, refresh-token age, warnings (no network)")
    .addHelpText("after", examples(["hpauth status", "hpauth status --json | jq '.profiles[] | .state'"]))
    .action(act("status"));

  program
    .command("inspect")
    .description(
      "Decode the current token (JWT header, claims, expiry; Identity zip_authorities). Never prints the token",
    )
    .option("--token <value>", "decode this token instead; `-` reads it from stdin")
    .addHelpText("after", examples(["hpauth inspect -p identity", "hpauth token -p gl | hpauth inspect --token -"]))
    .action(act("inspect"));

  program
    .command("logout")
    .description("Delete the stored tokens of the profile (or of every profile with --all)")
    .option("--all", "every stored credential", false)
    .addHelpText("after", examples(["hpauth logout -p work", "hpauth logout --all"]))
    .action(act("logout"));

  const profiles = program
    .command("profiles")
    .description("List, show, add or remove profiles in the config file")
    .addHelpText(
      "after",
      examples([
        "hpauth profiles list",
        "hpauth profiles show work",
        "hpauth profiles add work                   # asks for the fields the provider needs",
        "hpauth profiles add gl --provider greenlake --client-id abc --client-secret-env GL_SECRET",
        "hpauth profiles remove work",
      ]),
    );
  profiles
    .command("list", { isDefault: true })
    .description("List profiles")
    .action(function (this: Command) {
      onAction("profiles", { ...this.optsWithGlobals(), action: "list" });
    });
  profiles
    .command("show <name>")
    .description("Show a profile, secrets masked")
    .action(function (this: Command, name: string) {
      onAction("profiles", { ...this.optsWithGlobals(), action: "show", name });
    });
  profiles
    .command("add [name]")
    .description("Add or replace a profile (interactive on a TTY, else from flags)")
    .option("--default", "make it the default profile")
    .option(
      "--save-secrets",
      "write secrets typed at the prompt into the file (default: refuse; use *-env / *-command)",
    )
    .option("--non-interactive", "never prompt; take every field from flags and HPAUTH_* variables")
    .addHelpText(
      "after",
      examples([
        "hpauth profiles add",
        "hpauth profiles add aruba --provider aruba-central --region EU-1 --client-id … --client-secret-env ARUBA_SECRET \\\n      --username me@example.com --password-env ARUBA_PASSWORD --customer-id …",
      ]),
    )
    .action(function (this: Command, name: string | undefined) {
      const o = this.optsWithGlobals();
      onAction("profiles", { ...o, action: "add", name, makeDefault: o.default === true });
    });
  profiles
    .command("remove <name>")
    .alias("rm")
    .description("Remove a profile from the config file (and its stored tokens)")
    .action(function (this: Command, name: string) {
      onAction("profiles", { ...this.optsWithGlobals(), action: "remove", name });
    });

  program
    .command("login")
    .description(
      "Log in (browser for TechPulse / oauth2 authorization_code; a new grant for the others) or import a token pair",
    )
    .option("--no-browser", "print the authorization URL and read the redirected address back (ssh, containers)")
    .option("--paste", "the same as --no-browser")
    .option("--port <n>", "fixed loopback port for the redirect (for ssh -L); default: the profile's", parsePort)
    .option("--import <file>", "import a token pair (Aruba Central UI download, JSON); `-` reads stdin")
    .option("--import-tokens", "the same as --import -")
    .option("--timeout <seconds>", "how long to wait for the browser (default 300)", parsePositive("--timeout"))
    .addHelpText(
      "after",
      examples([
        "hpauth login -p techpulse",
        "hpauth login -p techpulse --no-browser --port 8765   # over ssh -L 8765:127.0.0.1:8765",
        "hpauth login -p aruba --import ~/Downloads/token.json",
        "hpauth login -p aruba --import - < token.json",
      ]),
    )
    .action(act("login"));

  program
    .command("emulate")
    .description("Run the five identity services and their APIs locally (with a clock and fault injection)")
    .option("--host <addr>", "interface to bind (default 127.0.0.1)")
    .option("--port <n>", "admin port; providers take the next five (default: free ports)", parsePort)
    .option("--techpulse-expires-in-ms", "answer TechPulse expires_in in milliseconds, like the seed's sample")
    .option("--revoke-family-on-reuse", "revoke a refresh-token family when an old refresh token is replayed")
    .addHelpText(
      "after",
      `${examples(["hpauth emulate", "hpauth emulate --json --port 9400", "hpauth emulate --config emulator.toml"])}
With --json, one line on stdout once listening: {"providers": {"<id>": {"baseUrl": …, credentials…}}, "adminUrl": …}.
--config names a JSON/TOML/YAML file of emulator options (top level or an [emulator] table; see docs/emulator.md).
`,
    )
    .action(act("emulate"));

  program
    .command("demo")
    .description("Run every provider's flow against a built-in emulator: no configuration, nothing written")
    .addHelpText("after", examples(["hpauth demo", "hpauth demo --json"]))
    .action(act("demo"));

  return program;
}

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new HpauthError("USAGE", `--min-ttl must be a number of seconds (got "${v}")`);
  return n;
}

function parsePositive(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new HpauthError("USAGE", `${flag} must be a positive number (got "${v}")`);
    return n;
  };
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new HpauthError("USAGE", `--port must be 0…65535 (got "${v}")`);
  return n;
}

const GLOBAL_KEYS = new Set(["config", "profile", "json", "verbose", "quiet", "color", "store", "storeDir"]);

type Chosen = { command: string; options: Record<string, unknown> };

/** commander's parse: the chosen command and its raw options, or the finished result for help and version. */
function chooseWithCommander(argv: readonly string[]): Chosen | { done: ParsedArgv } {
  const { CommanderError } = commander();
  let chosen: Chosen | undefined;
  let out = "";
  let err = "";
  const program = buildProgram((command, options) => {
    chosen = { command, options };
  });
  const configure = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({
      writeOut: (s) => {
        out += s;
      },
      writeErr: (s) => {
        err += s;
      },
      outputError: () => {},
    });
    for (const sub of cmd.commands) configure(sub);
  };
  configure(program);
  try {
    program.parse([...argv], { from: "user" });
  } catch (e) {
    if (isHpauthError(e)) throw e;
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed")
        return { done: { command: "help", options: defaults(), text: out || err } };
      // `hpauth` (or `hpauth profiles …`) without a command: help, but as a usage error so scripts notice.
      if (e.code === "commander.help") {
        return { done: { command: "help", options: { ...defaults(), usageError: true }, text: out || err } };
      }
      if (e.code === "commander.version") return { done: { command: "version", options: defaults(), text: out } };
      throw new HpauthError("USAGE", e.message.replace(/^error:\s*/, ""), {
        hint: "See `hpauth --help` or `hpauth <command> --help`.",
      });
    }
    throw e;
  }
  if (!chosen) {
    // No command: show the help (a usage error, so scripts notice).
    return { done: { command: "help", options: { ...defaults(), usageError: true }, text: program.helpInformation() } };
  }
  return chosen;
}

interface FastFlag {
  /** commander's attribute name: camelCase of the long flag without `--` / `--no-`. */
  key: string;
  kind: "true" | "false" | "value" | "record" | "choice";
  choices?: readonly string[];
}

const camel = (flag: string) =>
  flag
    .replace(/^--(no-)?/, "")
    .split("-")
    .reduce((a, w) => a + w[0]?.toUpperCase() + w.slice(1));

let programFlags: Map<string, FastFlag> | undefined;

/** The program-level flags buildProgram declares, in the same order (commander takes the first match). */
function fastProgramFlags(): Map<string, FastFlag> {
  if (programFlags) return programFlags;
  const m = new Map<string, FastFlag>();
  const add = (flags: string[], f: FastFlag) => {
    for (const flag of flags) if (!m.has(flag)) m.set(flag, f);
  };
  add(["-c", "--config"], { key: "config", kind: "value" });
  add(["-p", "--profile"], { key: "profile", kind: "value" });
  add(["--json"], { key: "json", kind: "true" });
  add(["-v", "--verbose"], { key: "verbose", kind: "true" });
  add(["-q", "--quiet"], { key: "quiet", kind: "true" });
  add(["--no-color"], { key: "color", kind: "false" });
  add(["--store"], { key: "store", kind: "choice", choices: ["file", "memory"] });
  add(["--store-dir"], { key: "storeDir", kind: "value" });
  for (const field of PROFILE_FIELDS) {
    const flag = flagName(field.key);
    if (field.kind === "boolean") {
      add([flag], { key: camel(flag), kind: "true" });
      add([`--no-${flag.slice(2)}`], { key: camel(flag), kind: "false" });
    } else {
      add([flag], { key: camel(flag), kind: field.kind === "record" ? "record" : "value" });
    }
  }
  programFlags = m;
  return m;
}

/** Arguments on which commander does something other than assign an option (help, version, `--`, help command). */
const FAST_BAIL = new Set(["-h", "--help", "-V", "--version", "--", "help"]);

/**
 * `hpauth [global flags] token|header [flags]` parsed without commander, the way commander would parse it: the
 * program's flags are recognised anywhere (and take the next argument as their value, whatever it looks like);
 * the first option the program does not know sends it and every later argument not taken by a program flag to the
 * subcommand, which must know them all. Anything else — help, version, `--`, short-flag groups, an unknown or
 * value-less flag, a bad value, a stray operand — returns undefined and commander parses it, so every error and
 * every unusual form behaves exactly as before; test/cli/argv.test.ts checks the two parsers agree.
 */
export function fastTokenArgv(argv: readonly string[]): Chosen | undefined {
  if (argv.some((a) => FAST_BAIL.has(a))) return undefined;
  const flags = fastProgramFlags();
  const raw: Record<string, unknown> = { json: false, verbose: false, quiet: false, color: true };
  const operands: string[] = [];
  const unknown: string[] = [];
  let dest = operands;
  for (let i = 0; i < argv.length; ) {
    const arg = argv[i++] as string;
    if (arg.length > 1 && arg[0] === "-") {
      const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
      const exact = flags.get(arg);
      const withValue = eq > 2 ? flags.get(arg.slice(0, eq)) : undefined;
      const flag =
        exact ?? (withValue && withValue.kind !== "true" && withValue.kind !== "false" ? withValue : undefined);
      if (flag) {
        if (flag.kind === "true" || flag.kind === "false") {
          raw[flag.key] = flag.kind === "true";
          continue;
        }
        const value = exact ? argv[i++] : arg.slice(eq + 1);
        if (value === undefined) return undefined;
        if (flag.kind === "choice" && !flag.choices?.includes(value)) return undefined;
        raw[flag.key] = flag.kind === "record" ? [...((raw[flag.key] as string[] | undefined) ?? []), value] : value;
        continue;
      }
      // `-qv`, `-pwork`: commander splits short groups; not worth mirroring.
      if (arg[1] !== "-" && arg.length > 2) return undefined;
      dest = unknown;
    }
    dest.push(arg);
  }
  const command = operands[0];
  if (operands.length !== 1 || (command !== "token" && command !== "header")) return undefined;
  raw.forceRefresh = false;
  for (let i = 0; i < unknown.length; ) {
    const arg = unknown[i++] as string;
    if (arg === "--force-refresh") {
      raw.forceRefresh = true;
      continue;
    }
    if (arg !== "--min-ttl" && !arg.startsWith("--min-ttl=")) return undefined;
    const value = arg === "--min-ttl" ? unknown[i++] : arg.slice("--min-ttl=".length);
    if (value === undefined) return undefined;
    const n = Number(value);
    // parseSeconds' rule; a bad value goes to commander for its error.
    if (!Number.isFinite(n) || n < 0) return undefined;
    raw.minTtl = n;
  }
  return { command, options: raw };
}

/**
 * argv (without node and script) → the command and its typed options. Throws HpauthError("USAGE").
 * `viaCommander` skips the fast path (tests compare the two).
 */
export function parseArgv(argv: readonly string[], viaCommander = false): ParsedArgv {
  const picked = (viaCommander ? undefined : fastTokenArgv(argv)) ?? chooseWithCommander(argv);
  if ("done" in picked) return picked.done;
  const chosen = picked;
  const raw = chosen.options;
  const fields: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  const fieldKeys = new Set(PROFILE_FIELDS.map((f) => f.key as string));
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    if (fieldKeys.has(k)) {
      // Repeated --token-param a=1 --token-param b=2 → "a=1&b=2" for the record coercion.
      fields[k] = Array.isArray(v) ? v.map((p) => new URLSearchParams(String(p)).toString()).join("&") : v;
    } else if (!GLOBAL_KEYS.has(k) && k !== "_args" && k !== "default") rest[k] = v;
  }
  const options: GlobalOptions & Record<string, unknown> = {
    ...rest,
    json: raw.json === true,
    verbose: raw.verbose === true,
    quiet: raw.quiet === true,
    color: raw.color !== false,
    fields,
  };
  for (const k of ["config", "profile", "store", "storeDir"] as const) {
    if (typeof raw[k] === "string") options[k] = raw[k] as string;
  }
  return { command: chosen.command, options };
}

function defaults(): GlobalOptions & Record<string, unknown> {
  return { json: false, verbose: false, quiet: false, color: true, fields: {} };
}

type Runner = (options: never, io: CommandIO) => Promise<number>;
type Parsed = ParsedArgv["options"];

/** `hpauth emulate` flags → the emulator command's options (src/cli/commands/emulate.ts documents them). */
export function emulateOptions(o: Parsed): RunEmulateOptions {
  return {
    json: o.json,
    verbose: o.verbose,
    ...(typeof o.host === "string" ? { host: o.host } : {}),
    ...(typeof o.port === "number" ? { port: o.port } : {}),
    // Emulator options may sit in the hpauth config file (an [emulator] table) or in a file of their own.
    ...(o.config ? { config: o.config } : {}),
    ...(o.techpulseExpiresInMs === true ? { techpulseExpiresInMillis: true } : {}),
    ...(o.revokeFamilyOnReuse === true ? { revokeFamilyOnRefreshReuse: true } : {}),
  };
}

/** `hpauth login` flags → the login command's options (src/cli/commands/login.ts documents them). */
export function loginOptions(o: Parsed): RunLoginOptions {
  const { browser: _b, paste: _p, port: _o, import: _i, importTokens: _t, timeout: _m, ...global } = o;
  return {
    ...global,
    browser: o.browser !== false,
    ...(o.paste === true ? { paste: true } : {}),
    ...(typeof o.port === "number" ? { port: o.port } : {}),
    ...(typeof o.import === "string" ? { import: o.import } : {}),
    ...(o.importTokens === true ? { importTokens: true } : {}),
    ...(typeof o.timeout === "number" ? { timeout: o.timeout } : {}),
  };
}

/** The lazily imported command modules: a command's dependencies load only when it runs. */
const COMMANDS: Record<string, () => Promise<Runner>> = {
  token: async () => (await import("./commands/token.js")).runToken,
  header: async () => (await import("./commands/token.js")).runHeader,
  status: async () => (await import("./commands/status.js")).runStatus,
  inspect: async () => (await import("./commands/inspect.js")).runInspect,
  logout: async () => (await import("./commands/logout.js")).runLogout,
  profiles: async () => (await import("./commands/profiles.js")).runProfiles,
  demo: async () => (await import("./commands/demo.js")).runDemo,
  emulate: async () => {
    const { runEmulate } = await import("./commands/emulate.js");
    return ((o: Parsed, io: CommandIO) => runEmulate(emulateOptions(o), io)) as Runner;
  },
  login: async () => {
    const { runLogin } = await import("./commands/login.js");
    return ((o: Parsed, io: CommandIO) => runLogin(loginOptions(o), io)) as Runner;
  },
};

/** Runs the CLI with injected IO; returns the exit code. Errors are caught here, once. */
export async function main(argv: readonly string[], io: CommandIO): Promise<number> {
  const wantsJson = argv.includes("--json");
  try {
    if (!fastTokenArgv(argv)) await loadCommander();
    const parsed = parseArgv(argv);
    if (parsed.command === "help" || parsed.command === "version") {
      // Help asked for goes to stdout; help shown because something was missing goes to stderr.
      (parsed.options.usageError ? io.stderr : io.stdout).write(parsed.text ?? "");
      return parsed.options.usageError ? ExitCode.USAGE : ExitCode.OK;
    }
    const load = COMMANDS[parsed.command];
    if (!load) throw new HpauthError("USAGE", `Unknown command "${parsed.command}"`);
    const run = await load();
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
    const lines = [`hpauth: ${redact(e.message)}`];
    if (e.retryAt) lines.push(`Retry after ${formatWhen(e.retryAt)}.`);
    if (e.hint) lines.push(redact(e.hint));
    io.stderr.write(`${lines.join("\n")}\n`);
    if (json) io.stdout.write(`${JSON.stringify({ error: e.toJSON() })}\n`);
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
