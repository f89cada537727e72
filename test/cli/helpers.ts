import { PassThrough } from "node:stream";
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
