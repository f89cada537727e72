/**
 * The same race as race.test.ts through the real CLI: 16 `node bin/hpauth.js token` processes (a private build of
 * the current source, see bundleCli) on one expired Aruba Central credential in one --store-dir. One refresh, no
 * login, every process prints the same new token and exits 0. Secrets reach the CLI by environment variable name
 * (--client-secret-env / --password-env), never in argv.
 */
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { arubaCounters, bundleCli, cleanup, readRecord, seedAruba, tempDir } from "./helpers.js";

const N = 16;
const SHIFT_S = 7200 + 100;

let root: string;
let bin: string;
let emu: Emulator;
const procs: ReturnType<typeof spawn>[] = [];

beforeAll(async () => {
  root = await tempDir("hpauth-e2e-cli-");
  bin = await bundleCli(join(root, "cli"));
  emu = await startEmulator({ port: 0 });
}, 60_000);

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await cleanup(root);
  await emu?.close();
});

function hpauth(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  const p = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
  procs.push(p);
  let out = "";
  let err = "";
  p.stdout.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  p.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  return new Promise((resolve) => p.on("close", (code) => resolve({ code, out, err })));
}

it(`${N} \`hpauth token\` processes on one expired Aruba credential: one refresh, no login, one token`, async () => {
  const storeDir = join(root, "tokens");
  const a = emu.providers["aruba-central"];
  // A real login, with the engine's clock set back so that the stored token expired 100 s ago in wall-clock time
  // (the CLI's clock), and the emulator's clock moved on by as much: both sides agree it is dead.
  const { record: seeded, key } = await seedAruba(emu, storeDir, () => Date.now() - SHIFT_S * 1000);
  await emu.admin.advanceClock(SHIFT_S);
  expect(seeded.expiresAt).toBeLessThan(Date.now());
  const before = await arubaCounters(emu);

  // No config file of the user's may leak in: empty XDG dirs.
  const xdg = join(root, "xdg");
  await mkdir(xdg, { recursive: true });
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: xdg,
    XDG_CONFIG_HOME: xdg,
    XDG_DATA_HOME: xdg,
    E2E_ARUBA_SECRET: a.clientSecret ?? "",
    E2E_ARUBA_PASSWORD: a.password ?? "",
  };
  const args = [
    "token",
    "--json",
    "--provider",
    "aruba-central",
    "--base-url",
    a.baseUrl,
    "--client-id",
    a.clientId ?? "",
    "--client-secret-env",
    "E2E_ARUBA_SECRET",
    "--username",
    a.username ?? "",
    "--password-env",
    "E2E_ARUBA_PASSWORD",
    "--customer-id",
    a.customerId ?? "",
    "--store-dir",
    storeDir,
  ];
  const results = await Promise.all(Array.from({ length: N }, () => hpauth(args, env)));

  for (const r of results) expect(r.code, r.err.slice(-1500)).toBe(0);
  const outs = results.map((r) => JSON.parse(r.out) as { access_token: string; source: string; provider: string });
  const after = await arubaCounters(emu);
  expect(after.refreshes - before.refreshes).toBe(1);
  expect(after.logins - before.logins).toBe(0);
  expect(after.tokenRequests - before.tokenRequests).toBe(1);

  const stored = await readRecord(storeDir, key);
  expect(stored?.accessToken).not.toBe(seeded.accessToken);
  expect(new Set(outs.map((o) => o.access_token))).toEqual(new Set([stored?.accessToken]));
  expect(outs.filter((o) => o.source === "refresh")).toHaveLength(1);
  expect(outs.every((o) => o.provider === "aruba-central")).toBe(true);
  // Nothing secret on stderr.
  for (const r of results) {
    for (const s of [a.clientSecret, a.password, stored?.refreshToken, seeded.refreshToken]) {
      if (s) expect(r.err).not.toContain(s);
    }
  }
}, 90_000);
