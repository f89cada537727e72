/**
 * What users run: the bundled CLI (a private build of the current source) with `--store redis://…` against a real
 * redis-server with requirepass. 16 `hpauth token` processes over 4 simulated hosts (own HOME/XDG dirs/HOSTNAME)
 * on one expired Aruba credential: one refresh, one token, all exit 0. Then the configuration paths (config file
 * `store`, store_password_env / store_password_command, HPAUTH_STORE), what is refused (a password in a --store URL
 * or in the config file), `status` showing the store, `--verbose` showing it and the lock waits, and Redis down.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createClient } from "redis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { createTokenManager } from "../../src/engine/manager.js";
import { RedisTokenStore } from "../../src/stores/redis.js";
import { type RedisServer, startRedis } from "../stores/redis-server.js";
import { arubaCounters, arubaEnv, bundleCli, cleanup, tempDir } from "./helpers.js";

const N = 16;
const HOSTS = 4;
const SHIFT_S = 7200 + 100;
const PASSWORD = `redis-pw-${randomBytes(10).toString("hex")}`;

let root: string;
let bin: string;
let emu: Emulator;
let redis: RedisServer;
const procs: ReturnType<typeof spawn>[] = [];

beforeAll(async () => {
  root = await tempDir("hpauth-redis-cli-");
  bin = await bundleCli(join(root, "cli"));
  emu = await startEmulator({ port: 0 });
  redis = await startRedis({ password: PASSWORD });
}, 60_000);

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await cleanup(root);
  await emu?.close();
  await redis?.dispose();
});

interface Run {
  code: number | null;
  out: string;
  err: string;
}

async function hostEnv(host: number, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const home = join(root, `host${host}`);
  await mkdir(join(home, ".config"), { recursive: true });
  const { secrets } = arubaEnv(emu);
  return {
    PATH: process.env.PATH ?? "",
    HOME: home,
    HOSTNAME: `host${host}`,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    ...secrets,
    ...extra,
  };
}

function hpauth(args: string[], env: Record<string, string>): Promise<Run> {
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

function profileFlags(): string[] {
  const p = arubaEnv(emu).profile as unknown as Record<string, string>;
  return [
    "--provider",
    "aruba-central",
    "--base-url",
    p.baseUrl!,
    "--client-id",
    p.clientId!,
    "--client-secret-env",
    "E2E_ARUBA_SECRET",
    "--username",
    p.username!,
    "--password-env",
    "E2E_ARUBA_PASSWORD",
    "--customer-id",
    p.customerId!,
  ];
}

/** A login stored in Redis under `prefix`, its token expired by wall-clock time (emulator clock moved on too). */
async function seedExpired(prefix: string) {
  await emu.admin.advanceClock(1801); // the emulator's one-login-per-30-minutes budget
  const { profile, secrets } = arubaEnv(emu);
  const store = new RedisTokenStore({ url: redis.url, password: PASSWORD, prefix });
  // The CLI names a flags-only profile "default"; the credential key must be the CLI's.
  const m = createTokenManager({
    profile: { ...profile, name: "default" },
    store,
    runtime: { now: () => Date.now() - SHIFT_S * 1000, env: secrets },
  });
  await m.login();
  const rec = await store.get(m.key);
  await store.close();
  await emu.admin.advanceClock(SHIFT_S);
  return rec!;
}

it(`${N} \`hpauth token --store redis://…\` processes on ${HOSTS} hosts, expired Aruba credential: 1 refresh, one token`, async () => {
  const prefix = `cli-${randomBytes(3).toString("hex")}:`;
  const seeded = await seedExpired(prefix);
  const before = await arubaCounters(emu);
  const args = ["token", "--json", ...profileFlags(), "--store", `${redis.url}/0`];
  const envs = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      hostEnv(i % HOSTS, { HPAUTH_STORE_PASSWORD: PASSWORD, HPAUTH_STORE_PREFIX: prefix }),
    ),
  );
  const results = await Promise.all(envs.map((env) => hpauth(args, env)));
  for (const r of results) expect(r.code, r.err.slice(-1500)).toBe(0);
  const after = await arubaCounters(emu);
  expect(after.refreshes - before.refreshes).toBe(1);
  expect(after.logins - before.logins).toBe(0);
  expect(after.tokenRequests - before.tokenRequests).toBe(1);
  const tokens = results.map((r) => (JSON.parse(r.out) as { access_token: string }).access_token);
  expect(new Set(tokens).size).toBe(1);
  expect(tokens[0]).not.toBe(seeded.accessToken);
  for (const r of results) {
    expect(r.err).not.toContain(PASSWORD);
    expect(r.err).not.toContain(seeded.refreshToken!);
  }
}, 120_000);

it("refuses a password inside the --store URL (argv), without echoing it", async () => {
  const r = await hpauth(
    ["token", ...profileFlags(), "--store", `redis://ops:${PASSWORD}@127.0.0.1:${redis.port}/0`],
    await hostEnv(0),
  );
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/contains a password; refusing it/);
  expect(r.err).toMatch(/HPAUTH_STORE_PASSWORD/);
  expect(r.err).not.toContain(PASSWORD);
});

it("config file `store` + store_password_command + store_prefix; status shows where; --verbose shows the store", async () => {
  const prefix = `cfg-${randomBytes(3).toString("hex")}:`;
  const env = await hostEnv(1, { CFG_REDIS_PW: PASSWORD });
  const p = arubaEnv(emu).profile as unknown as Record<string, string>;
  const config = join(root, "host1", ".config", "hpauth.toml");
  await writeFile(
    config,
    [
      `store = "${redis.url}/0"`,
      // The command prints the password (here from the environment, as `op read …` or `pass show …` would).
      `store_password_command = "printf %s \\"$CFG_REDIS_PW\\""`,
      `store_prefix = "${prefix}"`,
      "[profiles.fleet]",
      `provider = "aruba-central"`,
      `base_url = "${p.baseUrl}"`,
      `client_id = "${p.clientId}"`,
      `client_secret_env = "E2E_ARUBA_SECRET"`,
      `username = "${p.username}"`,
      `password_env = "E2E_ARUBA_PASSWORD"`,
      `customer_id = "${p.customerId}"`,
      "",
    ].join("\n"),
  );
  await emu.admin.advanceClock(1801);
  const login = await hpauth(["token", "--config", config, "--json", "--verbose"], env);
  expect(login.code, login.err.slice(-1500)).toBe(0);
  expect(login.err).toContain(`[hpauth] store: redis redis://127.0.0.1:${redis.port}/0 prefix=${prefix}`);
  expect(login.err).not.toContain(PASSWORD);
  const status = await hpauth(["status", "--config", config, "--json"], env);
  expect(status.code, status.err).toBe(0);
  const s = JSON.parse(status.out) as { store: string; store_location: string; profiles: Array<{ state: string }> };
  expect(s.store).toBe("redis");
  expect(s.store_location).toBe(`redis://127.0.0.1:${redis.port}/0 prefix=${prefix}`);
  expect(s.profiles[0]?.state).toBe("valid");
  const text = await hpauth(["status", "--config", config], env);
  expect(text.out).toContain(`Store: redis://127.0.0.1:${redis.port}/0 prefix=${prefix}`);

  // A password inside the config file's URL is refused too: config files get shared.
  await writeFile(config, `store = "redis://:${PASSWORD}@127.0.0.1:${redis.port}/0"\n`);
  const refused = await hpauth(["status", "--config", config], env);
  expect(refused.code).toBe(2);
  expect(refused.err).toMatch(/config file's `store` contains a password/);
  expect(refused.err).not.toContain(PASSWORD);
}, 60_000);

it("--verbose shows a lock wait on another host's hold", async () => {
  const prefix = `wait-${randomBytes(3).toString("hex")}:`;
  await seedExpired(prefix);
  // Another host holds the credential's lock until the CLI is seen waiting for it (subscribed to the lock's release
  // channel), then 300 ms more: a fixed hold time lost the race to a slow CLI start on a loaded machine.
  const other = new RedisTokenStore({ url: redis.url, password: PASSWORD, prefix });
  const key = createTokenManager({ profile: { ...arubaEnv(emu).profile, name: "default" }, store: other }).key;
  let release!: () => void;
  let held!: () => void;
  const isHeld = new Promise<void>((r) => (held = r));
  const holding = other.withLock(key, async () => {
    held();
    await new Promise<void>((r) => (release = r));
  });
  await isHeld;
  const watcher = createClient({ url: redis.url, password: PASSWORD });
  await watcher.connect();
  const channel = `${prefix}unlock:${key}`;
  const waited = (async () => {
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const subs = await watcher.pubSubNumSub(channel);
      if ((subs[channel] ?? 0) > 0) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  })().then(async (seen) => {
    await new Promise((r) => setTimeout(r, 300));
    release();
    return seen;
  });
  const r = await hpauth(
    ["token", "--verbose", ...profileFlags(), "--store", redis.url],
    await hostEnv(2, { HPAUTH_STORE_PASSWORD: PASSWORD, HPAUTH_STORE_PREFIX: prefix }),
  );
  expect(await waited, "the CLI never waited on the lock's release channel").toBe(true);
  await watcher.close();
  await holding;
  await other.close();
  expect(r.code, r.err.slice(-1500)).toBe(0);
  expect(r.err).toMatch(/lock_wait/);
  expect(r.err).toMatch(/lock_acquired.*waitedMs=\d+/);
}, 60_000);

it("Redis unreachable: STORE_ERROR with a hint, no fallback to the file store", async () => {
  const gone = await startRedis();
  const url = gone.url;
  await gone.dispose();
  const env = await hostEnv(3);
  const r = await hpauth(["token", "--json", ...profileFlags(), "--store", url], env);
  expect(r.code).not.toBe(0);
  expect(r.err).not.toMatch(/Warning/);
  const err = JSON.parse(r.out) as { error: { code: string; message: string; hint: string } };
  expect(err.error.code).toBe("STORE_ERROR");
  expect(err.error.message).toMatch(/ECONNREFUSED/);
  expect(err.error.hint).toMatch(/never falls back/);
  // status answers for every profile from the store: an unreachable shared store is an error, not a table.
  const after = await hpauth(["status", "--json", ...profileFlags(), "--store", url], env);
  expect(after.code).not.toBe(0);
  expect((JSON.parse(after.out) as { error: { code: string } }).error.code).toBe("STORE_ERROR");
}, 60_000);

it("HPAUTH_STORE_KEY: records are encrypted in Redis; without the key the CLI refuses to read them", async () => {
  await emu.admin.advanceClock(1801);
  const prefix = `enc-${randomBytes(3).toString("hex")}:`;
  const key = randomBytes(32).toString("base64");
  const base = { HPAUTH_STORE_PASSWORD: PASSWORD, HPAUTH_STORE_PREFIX: prefix };
  const args = ["token", "--json", ...profileFlags(), "--store", redis.url];
  const first = await hpauth(args, await hostEnv(0, { ...base, HPAUTH_STORE_KEY: key }));
  expect(first.code, first.err.slice(-1500)).toBe(0);
  const token = (JSON.parse(first.out) as { access_token: string }).access_token;
  // What Redis holds: ciphertext, not the token.
  const raw = createClient({ url: redis.url, password: PASSWORD });
  await raw.connect();
  const keys = await raw.keys(`${prefix}token:*`);
  const doc = (await raw.hGet(keys[0]!, "doc")) ?? "";
  await raw.close();
  expect(doc).toContain("A256GCM");
  expect(doc).not.toContain(token);
  const again = await hpauth(args, await hostEnv(1, { ...base, HPAUTH_STORE_KEY: key }));
  expect(again.code).toBe(0);
  expect(JSON.parse(again.out)).toMatchObject({ access_token: token, source: "cache" });
  const without = await hpauth(args, await hostEnv(2, base));
  expect(without.code).not.toBe(0);
  expect(without.err).toMatch(/encrypted and no store key is configured/);
  expect(without.err).toMatch(/HPAUTH_STORE_KEY/);
}, 60_000);
