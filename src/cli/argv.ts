/**
 * argv → the chosen command and its typed options, from the list of command definitions main.ts gives. commander
 * builds the program from the definitions (each adds its own flags, help and examples); a plain
 * `hpauth token|header …` is parsed without commander (fastParse), which is then never loaded.
 */
import { createRequire } from "node:module";
import type { Command, Help, Option } from "commander";
import { HpauthError, isHpauthError } from "../engine/errors.js";
import { ALL_GLOBALS, type AnyCommandDef, type Commander, examplesHelp, type GlobalGroup } from "./command.js";
import {
  defaultGlobalOptions,
  EXIT_CODES_HELP,
  FIELDS_HEADING,
  globalFastFlags,
  globalGroupOf,
  globalOptions,
  isGlobalKey,
  registerGlobalOptions,
} from "./globals.js";
import type { GlobalOptions } from "./options.js";

let commanderModule: Commander | undefined;

/**
 * commander pulls in child_process, events and streams (~20 ms) and is ~125 KB of code to compile: a cached
 * `hpauth token`, which fastParse parses without it, should pay for neither. So main() imports it dynamically
 * (its own chunk in the CLI bundle, loadCommander) only when the fast path declines; the synchronous parser takes
 * that copy, or when called directly (tests, the unbundled tsc build) loads it from node_modules.
 */
function commander(): Commander {
  commanderModule ??= createRequire(import.meta.url)("commander") as Commander;
  return commanderModule;
}

export async function loadCommander(): Promise<void> {
  commanderModule ??= (await import("commander")) as Commander;
}

export interface ParsedArgv {
  /** `token`, `profiles`, … or `help` / `version` when commander printed text instead of choosing a command. */
  command: string;
  /** The chosen command's typed options (its definition's `options()`), or the defaults for help / version. */
  options: GlobalOptions & Record<string, unknown>;
  /** Help or version text to print (command `help` / `version`). */
  text?: string;
}

/** What either parser found: the definition, the raw attributes (globals and own flags), positionals, subcommand. */
interface Chosen {
  def: AnyCommandDef;
  raw: Record<string, unknown>;
  args: string[];
  subcommand?: string;
}

export interface Program {
  version: string;
  description: string;
  commands: readonly AnyCommandDef[];
}

const appliesTo = new WeakMap<Command, readonly GlobalGroup[]>();

/** The global options that apply to `cmd` (its nearest definition's `globals`). */
function applicableGlobals(cmd: Command): readonly GlobalGroup[] {
  for (let c: Command | null = cmd; c; c = c.parent) {
    const g = appliesTo.get(c);
    if (g) return g;
  }
  return ALL_GLOBALS;
}

/**
 * Help: a subcommand's --help lists the global options that apply to it (commander's showGlobalOptions, filtered
 * by the definition's `globals`), in the groups they were declared in, so `-p`, `--json`, `--store` and the profile
 * fields are visible where they are used.
 */
function configureHelp(program: Command, cli: Commander): void {
  const base = cli.Help.prototype;
  let current: Command | undefined;
  program.configureHelp({
    showGlobalOptions: true,
    visibleGlobalOptions(this: Help, cmd: Command): Option[] {
      const groups = applicableGlobals(cmd);
      return base.visibleGlobalOptions.call(this, cmd).filter((o) => {
        // Untagged: -V, --version, which only the top level takes.
        const group = globalGroupOf.get(o);
        return group !== undefined && groups.includes(group);
      });
    },
    formatHelp(this: Help, cmd: Command, helper: Help): string {
      current = cmd;
      try {
        return base.formatHelp.call(this, cmd, helper);
      } finally {
        current = undefined;
      }
    },
    formatItemList(this: Help, heading: string, items: string[], helper: Help): string[] {
      if (heading !== "Global Options:" || !current) return base.formatItemList.call(this, heading, items, helper);
      // The items are visibleGlobalOptions(current), formatted, in order: split them by group.
      const options = helper.visibleGlobalOptions(current);
      const fields = items.filter((_, i) => options[i] && globalGroupOf.get(options[i]) === "fields");
      const others = items.filter((_, i) => !(options[i] && globalGroupOf.get(options[i]) === "fields"));
      return [
        ...base.formatItemList.call(this, "Global Options:", others, helper),
        ...base.formatItemList.call(this, FIELDS_HEADING, fields, helper),
      ];
    },
  });
}

/** Builds the commander program; `onAction` receives what the user chose. */
function buildProgram(spec: Program, onAction: (chosen: Chosen) => void): Command {
  const cli = commander();
  const program = new cli.Command("hpauth").description(spec.description).version(spec.version, "-V, --version");
  registerGlobalOptions(program, cli);
  program.addHelpText("after", EXIT_CODES_HELP);
  program.showSuggestionAfterError(true);
  configureHelp(program, cli);

  for (const def of spec.commands) {
    const cmd = program.command(def.name).description(def.summary);
    appliesTo.set(cmd, def.globals ?? ALL_GLOBALS);
    def.configure?.(cmd, cli);
    if (def.examples?.length) cmd.addHelpText("after", examplesHelp(def.examples));
    // Every leaf (the command itself, or each of its subcommands) reports the same way.
    const leaves = cmd.commands.length ? cmd.commands : [cmd];
    for (const leaf of leaves) {
      leaf.action(function (this: Command, ...params: unknown[]) {
        // commander passes the declared arguments, then the options object and the command.
        const args = params.slice(0, -2).flatMap((a) => (a === undefined ? [] : Array.isArray(a) ? a : [a]));
        onAction({
          def,
          raw: this.optsWithGlobals(),
          args: args.map(String),
          ...(leaf !== cmd ? { subcommand: leaf.name() } : {}),
        });
      });
    }
  }
  return program;
}

type Done = { done: ParsedArgv };

/** commander's parse: the chosen command, or the finished result for help and version. */
function chooseWithCommander(spec: Program, argv: readonly string[]): Chosen | Done {
  const { CommanderError } = commander();
  let chosen: Chosen | undefined;
  let out = "";
  let err = "";
  const program = buildProgram(spec, (c) => {
    chosen = c;
  });
  const quiet = (cmd: Command) => {
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
    for (const sub of cmd.commands) quiet(sub);
  };
  quiet(program);
  const help = (usageError: boolean, text: string): Done => ({
    // options.usageError: help shown because something was missing: printed on stderr, exit 2.
    done: { command: "help", options: { ...defaultGlobalOptions(), ...(usageError ? { usageError } : {}) }, text },
  });
  try {
    program.parse([...argv], { from: "user" });
  } catch (e) {
    if (isHpauthError(e)) throw e;
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed") return help(false, out || err);
      // `hpauth profiles …` needing a subcommand: help, but as a usage error so scripts notice.
      if (e.code === "commander.help") return help(true, out || err);
      if (e.code === "commander.version")
        return { done: { command: "version", options: defaultGlobalOptions(), text: out } };
      throw new HpauthError("USAGE", e.message.replace(/^error:\s*/, ""), {
        hint: "See `hpauth --help` or `hpauth <command> --help`.",
      });
    }
    throw e;
  }
  // No command: show the help (a usage error, so scripts notice).
  return chosen ?? help(true, program.helpInformation());
}

/** Arguments on which commander does something other than assign an option (help, version, `--`, help command). */
const FAST_BAIL = new Set(["-h", "--help", "-V", "--version", "--", "help"]);

/**
 * `hpauth [global flags] <fast command> [its flags]` parsed without commander, the way commander would parse it:
 * the program's flags are recognised anywhere (and take the next argument as their value, whatever it looks like);
 * the first option the program does not know sends it and every later argument not taken by a program flag to the
 * subcommand, which must know them all (its definition's `fast` list). Anything else — help, version, `--`,
 * short-flag groups, an unknown or value-less flag, a bad value, a stray operand — returns undefined and commander
 * parses it, so every error and every unusual form behaves exactly as before; test/cli/argv.test.ts checks the two
 * parsers agree.
 */
function fastParse(spec: Program, argv: readonly string[]): Chosen | undefined {
  if (argv.some((a) => FAST_BAIL.has(a))) return undefined;
  const flags = globalFastFlags();
  const raw: Record<string, unknown> = {};
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
        if (flag.kind === "record") {
          raw[flag.key] = [...((raw[flag.key] as string[] | undefined) ?? []), value];
          continue;
        }
        if (flag.key === "profile" && raw.profile !== undefined) {
          raw.profile = [raw.profile, value].flat(); // as globals.ts's -p argParser: a repeated -p is kept whole
          continue;
        }
        try {
          raw[flag.key] = flag.parse ? flag.parse(value) : value;
        } catch {
          return undefined; // commander reports it
        }
        continue;
      }
      // `-qv`, `-pwork`: commander splits short groups; not worth mirroring.
      if (arg[1] !== "-" && arg.length > 2) return undefined;
      dest = unknown;
    }
    dest.push(arg);
  }
  const def = operands.length === 1 ? spec.commands.find((d) => d.name === operands[0]) : undefined;
  if (!def?.fast) return undefined;
  const own = def.fast;
  for (const f of own) if (f.default !== undefined) raw[f.key] = f.default;
  for (let i = 0; i < unknown.length; ) {
    const arg = unknown[i++] as string;
    const eq = arg.indexOf("=");
    const f = own.find((x) => x.flag === arg) ?? (eq > 2 ? own.find((x) => x.flag === arg.slice(0, eq)) : undefined);
    if (!f) return undefined;
    if (f.kind === "true") {
      if (f.flag !== arg) return undefined; // `--force-refresh=yes`: commander's error
      raw[f.key] = true;
      continue;
    }
    const value = f.flag === arg ? unknown[i++] : arg.slice(eq + 1);
    if (value === undefined) return undefined;
    try {
      raw[f.key] = f.parse ? f.parse(value) : value;
    } catch {
      return undefined;
    }
  }
  return { def, raw, args: [] };
}

/** The definition's typed options from what a parser found. */
function finish(chosen: Chosen): ParsedArgv {
  const flags: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(chosen.raw)) if (v !== undefined && !isGlobalKey(k)) flags[k] = v;
  const options = chosen.def.options({
    global: globalOptions(chosen.raw),
    flags,
    args: chosen.args,
    ...(chosen.subcommand ? { subcommand: chosen.subcommand } : {}),
  });
  return { command: chosen.def.name, options: options as unknown as ParsedArgv["options"] };
}

/** The commander-free parser's result, or undefined when it leaves this argv to commander. */
export function parseFast(spec: Program, argv: readonly string[]): ParsedArgv | undefined {
  const chosen = fastParse(spec, argv);
  return chosen ? finish(chosen) : undefined;
}

/**
 * argv (without node and script) → the command and its typed options. Throws HpauthError("USAGE").
 * `viaCommander` skips the fast path (tests compare the two).
 */
export function parse(spec: Program, argv: readonly string[], viaCommander = false): ParsedArgv {
  const picked = (viaCommander ? undefined : fastParse(spec, argv)) ?? chooseWithCommander(spec, argv);
  if ("done" in picked) return picked.done;
  return finish(picked);
}

/** The definition of a command by name (after parse). */
export function findCommand(spec: Program, name: string): AnyCommandDef | undefined {
  return spec.commands.find((d) => d.name === name);
}

/** A command (or the program) as shell completion sees it: its subcommands, options and positional arguments. */
export interface CompletionNode {
  name: string;
  description: string;
  aliases: string[];
  subcommands: CompletionNode[];
  /** Its own options and the global options that apply to it (as its --help lists them). */
  options: Array<{ names: string[]; description: string; takesValue: boolean; choices?: readonly string[] }>;
  args: Array<{ name: string; choices?: readonly string[] }>;
}

/** The commander program built from the definitions, as data for `hpauth __complete` (src/cli/complete.ts). */
export function completionTree(spec: Program): CompletionNode {
  const program = buildProgram(spec, () => {});
  const globals = program.options.filter((o) => globalGroupOf.has(o));
  const walk = (cmd: Command, top: boolean): CompletionNode => {
    const groups = applicableGlobals(cmd);
    const own = top ? [] : [...cmd.options];
    const shared = top ? program.options : globals.filter((o) => groups.includes(globalGroupOf.get(o) as GlobalGroup));
    return {
      name: cmd.name(),
      description: cmd.description(),
      aliases: cmd.aliases(),
      subcommands: cmd.commands.map((c) => walk(c, false)),
      options: [...own, ...shared].map((o) => ({
        names: [o.short, o.long].filter((n): n is string => !!n),
        description: o.description,
        takesValue: o.required || o.optional,
        ...(o.argChoices ? { choices: o.argChoices } : {}),
      })),
      args: cmd.registeredArguments.map((a) => ({
        name: a.name(),
        ...(a.argChoices ? { choices: a.argChoices } : {}),
      })),
    };
  };
  const help = { names: ["-h", "--help"], description: "display help", takesValue: false };
  const addHelp = (n: CompletionNode) => {
    n.options.push(help);
    n.subcommands.forEach(addHelp);
  };
  const root = walk(program, true);
  addHelp(root);
  return root;
}
