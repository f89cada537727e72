/**
 * `hpauth completion bash|zsh|fish` in real shells, with the built CLI on PATH as `hpauth`. bash: the script is
 * eval'ed, `complete -p` shows it registered, and the completion function is called as readline would (COMP_LINE,
 * COMP_POINT). fish: `complete -C "<line>"` asks fish itself. zsh: the function is called with `words` / `CURRENT`
 * set as the completion system sets them, and `_describe` / `_files` replaced by printers (running zsh's completion
 * system needs a terminal). Profile names come from the config file at each Tab.
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { privateCli } from "./private-cli.js";

const run = promisify(execFile);

describe("shell completion", () => {
  let dir: string;
  let cfg: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hpauth-completion-"));
    const bin = await privateCli(dir);
    await mkdir(join(dir, "bin"));
    const wrapper = join(dir, "bin", "hpauth");
    await writeFile(wrapper, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} "$@"\n`);
    await chmod(wrapper, 0o755);
    cfg = join(dir, "config.toml");
    await writeFile(cfg, '[profiles.aruba-eu]\nprovider = "aruba-central"\n\n[profiles.gl]\nprovider = "greenlake"\n', {
      mode: 0o600,
    });
    env = { PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}`, HOME: join(dir, "home"), HPAUTH_CONFIG: cfg };
  }, 120_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** bash: the candidates readline would get for `line` (cursor at its end). */
  async function bash(line: string): Promise<string[]> {
    const script = `eval "$(hpauth completion bash)"
COMP_LINE=${JSON.stringify(line)}; COMP_POINT=\${#COMP_LINE}
_hpauth_complete
printf '%s\\n' "\${COMPREPLY[@]}"`;
    const { stdout } = await run("bash", ["--norc", "--noprofile", "-c", script], { env, cwd: dir });
    return stdout.split("\n").filter(Boolean);
  }

  it("bash: registered with complete -F; commands, subcommands, flags, choices", async () => {
    const { stdout } = await run("bash", ["--norc", "-c", 'eval "$(hpauth completion bash)"; complete -p hpauth'], {
      env,
    });
    expect(stdout.trim()).toBe("complete -o default -F _hpauth_complete hpauth");
    expect(await bash("hpauth ke")).toEqual(["keepalive"]);
    expect(await bash("hpauth pro")).toEqual(["profiles", "proxy"]);
    expect(await bash("hpauth profiles ")).toEqual(["list", "show", "add", "remove"]);
    expect(await bash("hpauth keepalive --w")).toEqual(["--within", "--workspace-id"]);
    // Global options that apply to the command, not those that do not (completion takes none).
    expect(await bash("hpauth token --store-")).toEqual(["--store-dir"]);
    expect(await bash("hpauth completion --st")).toEqual([]);
    expect(await bash("hpauth token --store ")).toEqual(["file", "memory", "redis://"]);
    expect(await bash("hpauth --provider ar")).toEqual(["aruba-central"]);
    expect(await bash("hpauth completion ")).toEqual(["bash", "zsh", "fish"]);
    expect(await bash("hpauth --json status ")).toEqual([]);
  });

  it("bash: token --format and git-credential --auth complete their choices", async () => {
    expect(await bash("hpauth token --format ")).toEqual([
      "raw",
      "json",
      "header",
      "az",
      "exec-credential",
      "bazel",
      "env",
    ]);
    expect(await bash("hpauth token -p gl --format e")).toEqual(["exec-credential", "env"]);
    expect(await bash("hpauth git-credential --auth ")).toEqual(["auto", "basic", "bearer"]);
    expect(await bash("hpauth git-credential get --auth b")).toEqual(["basic", "bearer"]);
  });

  it("bash: profile names from the config file, after -p / --profile and for profiles show; new ones at once", async () => {
    expect(await bash("hpauth token -p ")).toEqual(["aruba-eu", "gl"]);
    expect(await bash("hpauth token --profile a")).toEqual(["aruba-eu"]);
    expect(await bash("hpauth profiles show ")).toEqual(["aruba-eu", "gl"]);
    expect(await bash("hpauth keepalive -p gl -p ")).toEqual(["aruba-eu", "gl"]);
    // --config on the line wins over HPAUTH_CONFIG.
    const other = join(dir, "other.yaml");
    await writeFile(other, "profiles:\n  work:\n    provider: wxp\n", { mode: 0o600 });
    expect(await bash(`hpauth --config ${other} token -p `)).toEqual(["work"]);
    await writeFile(cfg, '[profiles.aruba-eu]\nprovider = "aruba-central"\n[profiles.new-one]\nprovider = "wxp"\n');
    expect(await bash("hpauth token -p ")).toEqual(["aruba-eu", "new-one"]);
    // A broken config completes no profiles, and says nothing.
    await writeFile(cfg, "[[[ not toml");
    expect(await bash("hpauth token -p ")).toEqual([]);
    await writeFile(cfg, '[profiles.aruba-eu]\nprovider = "aruba-central"\n\n[profiles.gl]\nprovider = "greenlake"\n');
  });

  it("fish: complete -C gives commands with descriptions, profile names, and file names for --config", async () => {
    const fish = async (line: string) =>
      (
        await run(
          "fish",
          ["--no-config", "-c", `hpauth completion fish | source; complete -C ${JSON.stringify(line)}`],
          {
            env,
            cwd: dir,
          },
        )
      ).stdout
        .split("\n")
        .filter(Boolean);
    expect(await fish("hpauth keep")).toEqual([expect.stringMatching(/^keepalive\tRefresh stored refresh tokens/)]);
    expect(await fish("hpauth token -p ")).toEqual(["aruba-eu", "gl"]);
    expect(await fish(`hpauth token --config ${join(dir, "conf")}`)).toEqual([cfg]);
    // A profile's ca_file, and the proxy's allow-list file, are files too.
    expect(await fish(`hpauth doctor --ca-file ${join(dir, "conf")}`)).toEqual([cfg]);
    expect(await fish(`hpauth proxy --allow-file ${join(dir, "conf")}`)).toEqual([cfg]);
  });

  it("zsh: the function passes words to hpauth and offers value:description pairs, or files", async () => {
    const zsh = async (...words: string[]) => {
      const script = `compdef() { :; }; _describe() { print -rl -- "\${(@P)4}"; }; _files() { print -- ":FILES"; }
source <(hpauth completion zsh)
words=(${words.map((w) => JSON.stringify(w)).join(" ")}); CURRENT=${words.length}
_hpauth`;
      return (await run("zsh", ["-f", "-c", script], { env, cwd: dir })).stdout.split("\n").filter(Boolean);
    };
    expect(await zsh("hpauth", "token", "-p", "")).toEqual(["aruba-eu", "gl"]);
    expect(await zsh("hpauth", "keepal")).toEqual([expect.stringMatching(/^keepalive:Refresh stored refresh tokens/)]);
    expect(await zsh("hpauth", "token", "--store", "")).toEqual(["file", "memory", "redis\\://"]);
    expect(await zsh("hpauth", "token", "--config", "")).toEqual([":FILES"]);
  });
});
