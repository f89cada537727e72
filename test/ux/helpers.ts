/** The built CLI as a child process with a clean environment (no HPAUTH_* or config from the developer's shell). */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../..", import.meta.url));
export const bin = join(root, "bin/hpauth.js");

export interface Result {
  code: number | null;
  out: string;
  err: string;
}

/**
 * The CLI under test is the one test/global-setup.ts built (or, with HPAUTH_TEST_SKIP_BUILD=1, the one built by hand).
 * Nothing here rebuilds it: a rebuild while other test files run the binary would swap dist/ under their feet.
 */
export async function buildCli(): Promise<void> {}

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
