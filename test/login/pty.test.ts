/**
 * Paste-back through a real pseudo-terminal (util-linux `script`): the process sees a TTY on stdin and stderr,
 * detects the SSH session, prints the URL, and takes the pasted address; Ctrl-C cancels and frees the port.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "./helpers.js";

const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasScript || process.platform !== "linux")("paste-back in a pseudo-terminal", () => {
  let dir: string;
  let entry: string;
  const children: ChildProcessWithoutNullStreams[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hpauth-pty-"));
    entry = join(dir, "paste-entry.mjs");
    await build({
      entryPoints: [new URL("./fixtures/paste-entry.ts", import.meta.url).pathname],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile: entry,
      logLevel: "silent",
    });
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  function run(env: Record<string, string>) {
    // The command string is ours (a temp path without quotes); no secret goes on this command line.
    const child = spawn("script", ["-q", "-e", "-c", `${process.execPath} ${entry}`, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "", TERM: "dumb", SSH_CONNECTION: "10.0.0.1 50000 10.0.0.2 22", ...env },
    });
    children.push(child);
    let out = "";
    child.stdout.on("data", (c) => {
      out += c.toString();
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    return { child, out: () => out, exited };
  }

  it("takes the pasted address from a terminal", async () => {
    const p = run({ EXPECT_CODE: "pty-code-1" });
    await until(() => p.out().includes("Paste the address"), 15_000);
    expect(p.out()).toContain("TTY stdin=true stderr=true");
    expect(p.out()).toContain("SSH session");
    const url = new URL(/https:\/\/idp\.invalid\/authorize\?\S+/.exec(p.out())![0]);
    const cb = new URL(url.searchParams.get("redirect_uri")!);
    cb.searchParams.set("code", "pty-code-1");
    cb.searchParams.set("state", url.searchParams.get("state")!);
    p.child.stdin.write(`${cb.href}\r`);
    expect(await p.exited).toBe(0);
    expect(p.out()).toContain("RESULT match");
  });

  it("Ctrl-C cancels (exit 130) and releases the fixed port", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));

    const p = run({ LOGIN_PORT: String(port) });
    await until(() => p.out().includes("Paste the address"), 15_000);
    expect(p.out()).toContain(`ssh -L ${port}:127.0.0.1:${port}`);
    p.child.stdin.write("\x03");
    expect(await p.exited).toBe(130);
    expect(p.out()).toContain("ERROR CANCELLED");
    const again = createServer();
    await new Promise<void>((resolve, reject) => again.once("error", reject).listen(port, "127.0.0.1", resolve));
    await new Promise((r) => again.close(r));
  });

  it("browser mode on a terminal: the URL, then a spinner with the elapsed time and how to cancel", async () => {
    const p = run({ DISPLAY: ":0", SSH_CONNECTION: "", BROWSER: "true" });
    await until(() => /Waiting for the login in the browser \(Ctrl-C to cancel\) 0:0\d/.test(p.out()), 15_000);
    expect(p.out()).toContain("If it does not open, visit:");
    expect(p.out()).toContain("\r\x1b[2K");
    p.child.stdin.write("\x03");
    expect(await p.exited).toBe(130);
  });
});
