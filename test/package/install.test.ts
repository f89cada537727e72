/**
 * The npm package as a user gets it: a copy of the source tree without dist/ is packed (`npm pack`: the prepack build
 * must make dist/), the tarball is installed into an empty project (`npm install ./hpauth-….tgz`, from the npm cache
 * where it can: `npm ci` cached the tarballs, but not the registry documents a range needs, so the first run may
 * fetch those), and there `npx hpauth` runs and every subpath export imports.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pkg from "../../package.json" with { type: "json" };

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));

describe("the packed tarball, installed", () => {
  let dir: string;
  let project: string;
  let packed: { filename: string; files: Array<{ path: string }> };

  const env = () => ({
    ...process.env,
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hpauth-pkg-"));
    // The files of this checkout as git sees them (tracked, and new ones not ignored): no dist/, no .tmp/.
    const { stdout } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
      cwd: root,
    });
    const clone = join(dir, "clone");
    for (const f of stdout.split("\0").filter(Boolean)) {
      await mkdir(join(clone, f, ".."), { recursive: true });
      await cp(join(root, f), join(clone, f)).catch((e) => {
        if (e.code !== "ENOENT") throw e; // deleted in the work tree, not yet in the index
      });
    }
    await symlink(join(root, "node_modules"), join(clone, "node_modules"), "dir");
    const out = await run("npm", ["pack", "--json", "--pack-destination", dir], {
      cwd: clone,
      env: env(),
      timeout: 240_000,
    });
    packed = JSON.parse(out.stdout)[0];

    project = join(dir, "project");
    await mkdir(project);
    await writeFile(
      join(project, "package.json"),
      JSON.stringify({ name: "user-project", private: true, type: "module" }),
    );
    await run("npm", ["install", "--prefer-offline", "--no-package-lock", join(dir, packed.filename)], {
      cwd: project,
      env: env(),
      timeout: 240_000,
    });
  }, 600_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("prepack built dist/: the tarball has the CLI bundle and the library, no source maps, a LICENSE", () => {
    const files = packed.files.map((f) => f.path);
    for (const f of ["bin/hpauth.js", "dist/cli.js", "dist/index.js", "dist/index.d.ts", "LICENSE", "README.md"])
      expect(files, f).toContain(f);
    expect(files.filter((f) => f.endsWith(".map"))).toEqual([]);
    expect(files.some((f) => f.startsWith("dist/cli-chunks/"))).toBe(true);
  });

  it("npx hpauth --version and a command that loads the bundled parsers", async () => {
    const v = await run("npx", ["--no", "--", "hpauth", "--version"], { cwd: project, env: env() });
    expect(v.stdout.trim()).toBe(pkg.version);
    const cfg = join(project, "config.yaml");
    await writeFile(cfg, "profiles:\n  gl:\n    provider: greenlake\n    client_id: abc\n", { mode: 0o600 });
    const list = await run("npx", ["--no", "--", "hpauth", "profiles", "list", "--json", "--config", cfg], {
      cwd: project,
      env: env(),
    });
    expect(JSON.parse(list.stdout).profiles).toMatchObject([{ name: "gl", provider: "greenlake" }]);
  });

  it("every subpath export imports; the CLI-only dependencies are not installed", async () => {
    const subpaths = Object.keys(pkg.exports).filter((k) => k !== "./package.json");
    const specs = subpaths.map((s) => (s === "." ? "hpauth" : `hpauth/${s.slice(2)}`));
    const script = `for (const s of ${JSON.stringify(specs)}) { const m = await import(s); console.log(s, Object.keys(m).length); }`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: project, env: env() });
    const counts = Object.fromEntries(
      stdout
        .trim()
        .split("\n")
        .map((l) => l.split(" ")),
    );
    for (const s of specs) expect(Number(counts[s]), s).toBeGreaterThan(0);
    const installed = await readdir(join(project, "node_modules"));
    for (const dep of Object.keys(pkg.dependencies)) expect(installed, dep).toContain(dep);
    for (const cliOnly of ["commander", "yaml", "smol-toml", "mute-stream", "jsonc-parser"])
      expect(installed, cliOnly).not.toContain(cliOnly);
  });
});
