/**
 * `hpauth __complete WORD… CURRENT`: what the shell scripts of `hpauth completion` call on each Tab (cobra's
 * `__complete`, as gh and kubectl do it): the words typed so far after `hpauth`, the last being the one under the
 * cursor (possibly empty). Prints the candidates, one a line, `value<TAB>description`; a last line `:files` asks the
 * shell for its own file-name completion instead (a --config path, the command after `exec --`). Commands, flags and
 * subcommands come from the same definitions the parser uses (completionTree), profile names from the config file
 * the words (or HPAUTH_CONFIG) select. Never fails: a broken config just completes no profiles.
 */
import { PROVIDER_IDS } from "../engine/types.js";
import { type CompletionNode, completionTree, loadCommander, type Program } from "./argv.js";
import type { CommandIO } from "./io.js";

/** Options whose value is a file or directory name: the shell completes those. */
const PATH_OPTIONS = new Set([
  "--config",
  "--store-dir",
  "--import",
  "--data",
  "--output",
  "--ca-file",
  "--allow-file",
]);

type Option = CompletionNode["options"][number];

export async function complete(spec: Program, words: readonly string[], io: CommandIO): Promise<number> {
  await loadCommander();
  const root = completionTree(spec);
  const typed = words.slice(0, -1);
  const cur = words.at(-1) ?? "";
  let node = root;
  let config: string | undefined;
  let pending: Option | undefined;
  let afterDashes = false;
  let positional = 0;
  for (const w of typed) {
    if (pending) {
      if (pending.names.includes("--config")) config = w;
      pending = undefined;
      continue;
    }
    if (w === "--") {
      afterDashes = true;
      break;
    }
    if (w.startsWith("-") && w.length > 1) {
      const [name, value] =
        w.startsWith("--") && w.includes("=")
          ? [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)]
          : [w, undefined];
      const o = findOption(node, name);
      if (o?.takesValue && value === undefined) pending = o;
      else if (o?.names.includes("--config") && value !== undefined) config = value;
      continue;
    }
    const sub = node.subcommands.find((c) => c.name === w || c.aliases.includes(w));
    if (sub) {
      node = sub;
      positional = 0;
    } else positional++;
  }

  const out: string[] = [];
  const offer = (value: string, description = "") => {
    if (value.startsWith(cur)) out.push(description ? `${value}\t${oneLine(description)}` : value);
  };
  if (afterDashes) {
    out.push(":files");
  } else if (pending) {
    const long = pending.names.find((n) => n.startsWith("--")) ?? "";
    if (long === "--profile") for (const p of await profileNames(config, io)) offer(p);
    else if (long === "--store") for (const v of ["file", "memory", "redis://"]) offer(v);
    else if (long === "--provider") for (const v of PROVIDER_IDS) offer(v);
    else if (pending.choices) for (const v of pending.choices) offer(v);
    else if (PATH_OPTIONS.has(long)) out.push(":files");
  } else if (cur.startsWith("-")) {
    for (const o of node.options) for (const name of o.names) offer(name, o.description);
  } else if (node.subcommands.length > 0) {
    for (const c of node.subcommands) if (c.name !== "__complete") offer(c.name, c.description);
  } else {
    const arg = node.args[positional];
    if (arg?.choices) for (const v of arg.choices) offer(v);
    else if (arg && arg.name === "name" && /^(show|remove)$/.test(node.name))
      for (const p of await profileNames(config, io)) offer(p);
    else if (arg) out.push(":files");
  }
  if (out.length) io.stdout.write(`${out.join("\n")}\n`);
  return 0;
}

function findOption(node: CompletionNode, name: string): Option | undefined {
  return node.options.find((o) => o.names.includes(name));
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** The profile names of the config file `--config` (else HPAUTH_CONFIG, else the default) names; none on any error. */
async function profileNames(config: string | undefined, io: CommandIO): Promise<string[]> {
  try {
    const [{ locateConfig }, { loadConfigFile }, { homedir }] = await Promise.all([
      import("../config/paths.js"),
      import("../config/load.js"),
      import("node:os"),
    ]);
    const loc = locateConfig(config, io.env, process.platform, homedir());
    const file = await loadConfigFile(loc.path, false);
    return Object.keys(file.profiles);
  } catch {
    return [];
  }
}
