import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCliAt } from "../cli/helpers.js";

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
  return runCliAt(bin, args, env, stdin, root);
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
