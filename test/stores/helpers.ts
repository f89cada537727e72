import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import type { TokenRecord } from "../../src/stores/types.js";

export async function tempDir(prefix = "hpauth-store-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export function record(extra: Partial<TokenRecord> = {}): TokenRecord {
  return {
    v: 1,
    provider: "techpulse",
    profile: "default",
    accessToken: "at-not-a-real-token",
    tokenType: "Bearer",
    expiresAt: 1_700_003_600_000,
    refreshToken: "rt-not-a-real-token",
    updatedAt: 1_700_000_000_000,
    ...extra,
  };
}

/**
 * Children cannot load TypeScript (Node 20, no loader), so the store is bundled to one ESM file they import. The
 * banner gives bundled CommonJS dependencies a real `require` for Node's built-ins.
 */
export async function bundleStore(outDir: string): Promise<string> {
  const outfile = join(outDir, "store.mjs");
  await build({
    entryPoints: [fileURLToPath(new URL("../../src/stores/file.ts", import.meta.url))],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "warning",
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  return pathToFileURL(outfile).href;
}

/** Writes a child script that imports the bundled store as `STORE_URL` (injected as a constant). */
export async function writeScript(dir: string, name: string, storeUrl: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `import { FileTokenStore } from ${JSON.stringify(storeUrl)};\n${body}\n`);
  return path;
}

export interface Child {
  proc: ChildProcess;
  /** Complete stdout lines seen so far. */
  lines: string[];
  stderr: () => string;
  /** Resolves with the first line matching. */
  waitFor(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startChild(script: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, [script, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  let partial = "";
  let err = "";
  const waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  proc.stdout!.setEncoding("utf8");
  proc.stdout!.on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (c: string) => {
    err += c;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on("close", (code, signal) => resolve({ code, signal }));
  });
  return {
    proc,
    lines,
    stderr: () => err,
    exited,
    waitFor(pred, timeoutMs = 15_000) {
      const seen = lines.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`child: no matching line in ${timeoutMs} ms; stderr: ${err}`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(() =>
          setTimeout(() => {
            clearTimeout(timer);
            reject(new Error(`child exited before a matching line; stderr: ${err}`));
          }, 50),
        );
      });
    },
  };
}

export async function cleanup(dir: string | undefined, children: Child[] = []): Promise<void> {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGKILL");
  await Promise.all(children.map((c) => c.exited));
  if (dir) await rm(dir, { recursive: true, force: true });
}
