/** The built CLI as a child process with a clean environment (no HPAUTH_* or config from the developer's shell). */
import { execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const root = fileURLToPath(new URL("../..", import.meta.url));
export const bin = join(root, "bin/hpauth.js");

export interface Result {
  code: number | null;
  out: string;
  err: string;
}

/** Builds just the CLI bundle (the global setup builds everything unless HPAUTH_TEST_SKIP_BUILD=1). */
export async function buildCli(): Promise<void> {
  if (process.env.HPAUTH_TEST_SKIP_BUILD === "1") return;
  await promisify(execFile)(process.execPath, [join(root, "scripts/build.mjs"), "--cli-only"], {
    cwd: root,
    timeout: 120_000,
  });
}

export function hpauth(args: string[], env: Record<string, string> = {}, stdin = ""): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: join(tmpdir(), "hpauth-no-home"),
        XDG_CONFIG_HOME: join(tmpdir(), "hpauth-no-xdg"),
        ...env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      err += c;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
    child.stdin.end(stdin);
  });
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
