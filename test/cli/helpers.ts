import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import type { CommandIO } from "../../src/cli/io.js";

export interface Captured {
  io: CommandIO;
  out(): string;
  err(): string;
  controller: AbortController;
}

export function capture(
  env: Record<string, string | undefined> = {},
  stdinText?: string,
  stdinIsTTY = false,
): Captured {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => {
    out += c.toString();
  });
  stderr.on("data", (c) => {
    err += c.toString();
  });
  if (stdinText !== undefined) stdin.end(stdinText);
  const controller = new AbortController();
  return {
    io: { stdout, stderr, stdin, stdinIsTTY, stderrIsTTY: false, env, signal: controller.signal },
    out: () => out,
    err: () => err,
    controller,
  };
}

export async function admin(adminUrl: string, path: string, body?: unknown, method?: string): Promise<unknown> {
  const res = await fetch(new URL(path, adminUrl), {
    method: method ?? (body === undefined ? "GET" : "POST"),
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`admin ${path}: ${res.status}`);
  return res.json().catch(() => ({}));
}

/** An Aruba Central profile as flags, its secrets by environment variable name (never in argv), and that env. */
export function arubaFlags(p: {
  baseUrl: string;
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  customerId?: string;
}): { flags: string[]; env: Record<string, string> } {
  return {
    flags: [
      "--provider",
      "aruba-central",
      "--base-url",
      p.baseUrl,
      "--client-id",
      p.clientId!,
      "--client-secret-env",
      "A_SECRET",
      "--username",
      p.username!,
      "--password-env",
      "A_PASSWORD",
      "--customer-id",
      p.customerId!,
    ],
    env: { A_SECRET: p.clientSecret!, A_PASSWORD: p.password! },
  };
}

export interface ProcessResult {
  code: number | null;
  out: string;
  err: string;
}

/**
 * The built CLI (`node bin/hpauth.js`, built by test/global-setup.ts) as a child process with a clean environment:
 * no HPAUTH_* or config leaking in from the developer's shell; secrets reach it through `env`, never argv.
 */
export function runBuiltCli(
  args: readonly string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<ProcessResult> {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  return runCliAt(join(root, "bin/hpauth.js"), args, env, stdin, root);
}

/**
 * A CLI at `bin` (the checkout's, or a private copy) as a child process with a clean environment: no HPAUTH_*,
 * proxy variables or NODE_EXTRA_CA_CERTS leaking in from the machine, a HOME and XDG_CONFIG_HOME that hold nothing.
 */
export function runCliAt(
  bin: string,
  args: readonly string[],
  env: Record<string, string> = {},
  stdin?: string,
  cwd?: string,
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      ...(cwd ? { cwd } : {}),
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
    child.stdin.end(stdin ?? "");
  });
}

/** The built CLI's path, for tools that run it themselves (kubectl's exec plugin, git's credential helper). */
export const BUILT_CLI = fileURLToPath(new URL("../../bin/hpauth.js", import.meta.url));
