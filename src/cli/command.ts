/**
 * What a CLI command is (gh-style): a small definition that owns its flags, help text, examples and the mapping
 * from parsed flags to its runner's typed options, plus a lazy `load()` of the runner. main.ts lists the
 * definitions; argv.ts turns them into a commander program (and, for `fast` commands, parses without commander).
 *
 * A definition module must be cheap to import: it imports only types (`import type`) from its runner and the
 * engine, and this file's helpers; `load()` does the dynamic import of the runner. See docs/ARCHITECTURE.md,
 * "Adding a command".
 */
import type { Command } from "commander";
import { HpauthError } from "../engine/errors.js";
import type { CommandIO } from "./io.js";
import type { GlobalOptions } from "./options.js";

export type Commander = typeof import("commander");

/** Groups of global options, so each command's `--help` lists those that apply to it. */
export type GlobalGroup = "output" | "config" | "profile" | "store" | "fields";
export const ALL_GLOBALS: readonly GlobalGroup[] = ["output", "config", "profile", "store", "fields"];

/** What the parser hands a definition's `options()`. */
export interface ParsedCommand {
  /** The global options (-c, -p, --json, -v, -q, --no-color, --store, --store-dir, the profile fields). */
  global: GlobalOptions;
  /** This command's own flags, by commander's attribute name (`--min-ttl` → `minTtl`); undefined ones omitted. */
  flags: Record<string, unknown>;
  /** Positional arguments of the (sub)command. */
  args: string[];
  /** The subcommand chosen (`profiles show` → "show"; aliases resolved to the name), if the command has any. */
  subcommand?: string;
}

export type Runner<O> = (options: O, io: CommandIO) => Promise<number>;

/** A flag the commander-free parser (argv.ts fastParse) understands; test/cli/argv.test.ts checks both agree. */
export interface FastFlag {
  flag: `--${string}`;
  /** commander's attribute name. */
  key: string;
  kind: "true" | "value";
  /** For "value": the same argParser commander uses; a throw sends the argv to commander for its error. */
  parse?: (value: string) => unknown;
  /** commander's default (e.g. false for a boolean flag declared with a default). */
  default?: unknown;
}

export interface CommandDef<O = unknown> {
  /** The word after `hpauth`. */
  name: string;
  /** One line for `hpauth --help` and the top of `hpauth <name> --help`. */
  summary: string;
  /** The global option groups that apply (shown in this command's --help); default: all. */
  globals?: readonly GlobalGroup[];
  /** Lines for the Examples section of `--help` (without the `$ `). */
  examples?: readonly string[];
  /** Adds arguments, flags, subcommands and extra help text; `cli` is commander itself (for `Option`). */
  configure?(cmd: Command, cli: Commander): void;
  /** Parsed flags → the runner's typed options. */
  options(parsed: ParsedCommand): O;
  /** Imports the runner (dynamic import: its dependencies load only when this command runs). */
  load(): Promise<Runner<O>>;
  /** Only for the credential-helper commands: parse without commander (no subcommands, no positionals). */
  fast?: readonly FastFlag[];
}

/** Typed identity: `export const status = defineCommand<StatusOptions>({ … })`. */
export function defineCommand<O>(def: CommandDef<O>): CommandDef<O> {
  return def;
}

/** The Examples section of a command's --help. */
export function examplesHelp(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}

// Flag value parsers: a bad value is a USAGE error naming the flag (exit 2), the same in both parsers.

export function parseSeconds(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0)
      throw new HpauthError("USAGE", `${flag} must be a number of seconds (got "${v}")`);
    return n;
  };
}

export function parsePositive(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new HpauthError("USAGE", `${flag} must be a positive number (got "${v}")`);
    return n;
  };
}

export function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new HpauthError("USAGE", `--port must be 0…65535 (got "${v}")`);
  return n;
}

/** A definition of any options type, for the list in main.ts (each is checked against its own options type). */
// biome-ignore lint/suspicious/noExplicitAny: the list holds definitions whose option types differ
export type AnyCommandDef = CommandDef<any>;
