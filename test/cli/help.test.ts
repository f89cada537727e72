/**
 * Every command's and subcommand's `--help` in the built CLI, found by walking `hpauth --help` (so a new command is
 * covered without touching this file): it exits 0, shows an Examples section, and lists exactly the global options
 * that apply to it (`-c, --config`, `-p, --profile`, `--json`, as its definition's `globals` says).
 */
import { describe, expect, it } from "vitest";
import { ALL_GLOBALS, type GlobalGroup } from "../../src/cli/command.js";
import { COMMANDS } from "../../src/cli/main.js";
import { runBuiltCli } from "./helpers.js";

/** The names in a help text's `Commands:` section (commander's own `help` left out). */
function commandsIn(help: string): string[] {
  const section = /\nCommands:\n([\s\S]*?)(\n\n|$)/.exec(help)?.[1] ?? "";
  return [...section.matchAll(/^ {2}([a-z][\w-]*)(?:\|[\w-]+)?\b/gm)]
    .map((m) => m[1] as string)
    .filter((n) => n !== "help");
}

const MARKERS: Record<"config" | "profile" | "output", RegExp> = {
  config: /^ {2}-c, --config <path>/m,
  profile: /^ {2}-p, --profile <name>/m,
  output: /^ {2}--json /m,
};

describe("--help of every command", async () => {
  const top = await runBuiltCli(["--help"]);
  const names = commandsIn(top.out);

  it("the top-level help lists every command", () => {
    expect(top.code).toBe(0);
    expect(names.sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  it("the help names every provider and counts the emulator's six origins (the GreenLake platform included)", async () => {
    expect(top.out).toMatch(/GreenLake platform/);
    expect(top.out).toMatch(/new Central/);
    const emulate = await runBuiltCli(["emulate", "--help"]);
    expect(emulate.out).not.toMatch(/the five identity services|next five/);
    expect(emulate.out).toMatch(/providers take the next six/);
  });

  const leaves: Array<{ argv: string[]; groups: readonly GlobalGroup[] }> = [];
  for (const name of names) {
    const def = COMMANDS.find((c) => c.name === name);
    const groups = def?.globals ?? ALL_GLOBALS;
    const help = await runBuiltCli([name, "--help"]);
    leaves.push({ argv: [name], groups });
    for (const sub of commandsIn(help.out)) leaves.push({ argv: [name, sub], groups });
  }

  it.each(leaves)("hpauth $argv --help: examples and the global options that apply", async ({ argv, groups }) => {
    const r = await runBuiltCli([...argv, "--help"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`^Usage: hpauth ${argv.join(" ")}\\b`));
    expect(r.out).toMatch(/\nExamples:\n {2}\$ \S/);
    for (const [group, marker] of Object.entries(MARKERS)) {
      if (groups.includes(group as GlobalGroup)) expect(r.out, `${argv} shows ${group}`).toMatch(marker);
      else expect(r.out, `${argv} hides ${group}`).not.toMatch(marker);
    }
  });
});
