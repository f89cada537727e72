/**
 * `hpauth exec` and `hpauth request` on a real pseudo-terminal (util-linux `script`): Ctrl-C reaches the command
 * once (the terminal sends it to the whole foreground group; hpauth must not add a second copy), and `request`
 * pretty-prints JSON for a terminal. The built CLI, against the emulator.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { privateCli } from "./private-cli.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
/** The built CLI, copied (see privateCli). */
let bin = join(root, "bin/hpauth.js");
const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const sh = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

describe.skipIf(!hasScript || process.platform !== "linux")("on a terminal", () => {
  let emu: Emulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startEmulator();
    dir = await mkdtemp(join(tmpdir(), "hpauth-usepty-"));
    bin = await privateCli(dir);
  });
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs `hpauth ARGS` inside `script`; the secret reaches it by environment, the command line holds none. */
  function inPty(args: string[]) {
    const p = emu.providers.greenlake;
    const flags = [
      "--provider",
      "greenlake",
      "--base-url",
      p.baseUrl,
      "--client-id",
      p.clientId!,
      "--client-secret-env",
      "GL_SECRET",
      "--store-dir",
      join(dir, "store"),
    ];
    // `exec`: hpauth replaces the shell, so Ctrl-C reaches hpauth and the command, not a shell between them.
    const cmd = `exec ${[process.execPath, bin, args[0]!, ...flags, ...args.slice(1)].map(sh).join(" ")}`;
    const child = spawn("script", ["-q", "-e", "-c", cmd, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "", TERM: "dumb", HOME: join(dir, "home"), GL_SECRET: p.clientSecret! },
    });
    let out = "";
    child.stdout.on("data", (c) => {
      out += c.toString();
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    return { child, out: () => out, exited };
  }

  it("exec: Ctrl-C reaches the command exactly once; hpauth exits with the command's status", async () => {
    const counter =
      "let n = 0; process.on('SIGINT', () => { n++; if (n === 1) setTimeout(() => { process.stdout.write('sigints=' + n + '\\n'); process.exit(5); }, 700); }); process.stdout.write('ready\\n'); setInterval(() => {}, 1000);";
    const run = inPty(["exec", "--", process.execPath, "-e", counter]);
    const t0 = Date.now();
    while (!run.out().includes("ready") && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 25));
    expect(run.out()).toContain("ready");
    run.child.stdin.write("\x03");
    const code = await run.exited;
    expect(run.out(), run.out()).toContain("sigints=1");
    expect(code).toBe(5);
  });

  it("request: JSON pretty-printed for a terminal", async () => {
    const run = inPty(["request", "/api/v1/storage-systems?limit=1"]);
    const code = await run.exited;
    expect(code, run.out()).toBe(0);
    const text = run.out().replace(/\r\n/g, "\n");
    expect(text).toMatch(/^\{\n {2}"items": \[\n {4}\{\n/);
    expect(JSON.parse(text).items).toHaveLength(1);
  });
});
