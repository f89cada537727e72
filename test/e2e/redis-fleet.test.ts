/**
 * Issue 9's proofs, CI-sized (bench/redis.mjs runs the 64-process × 10-round version): processes spread over 4
 * simulated hosts (own HOME, XDG dirs and HOSTNAME each), one real redis-server, the emulator's Aruba Central.
 *   - cold credential: exactly 1 login, 0 failures, one token;  expired credential: exactly 1 refresh, 0 failures;
 *   - the lock holder SIGSTOPped past its lease, then continued, at two moments: before its refresh request (the
 *     successor refreshes, the continued holder serves the successor's token) and after the server rotated the
 *     refresh token but before the commit (the rotation is saved, not lost, and nothing newer is overwritten);
 *   - Redis restarted mid-refresh: success (the commit waits for Redis) or a clear error, never a silent loss.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { createTokenManager } from "../../src/engine/manager.js";
import { RedisTokenStore } from "../../src/stores/redis.js";
import { type Child, cleanup, tempDir } from "../stores/helpers.js";
import { type RedisServer, startRedis } from "../stores/redis-server.js";
import { arubaCounters, arubaEnv, tokenHash } from "./helpers.js";
import { bundleRedisEngine, fleetResult, fleetRunner, writeRedisRunner } from "./redis-helpers.js";

const N = 16;
const HOSTS = 4;
const ROUNDS = 2;
const SHIFT_S = 7200 + 100;

let root: string;
let script: string;
let emu: Emulator;
let redis: RedisServer;
const children: Child[] = [];

beforeAll(async () => {
  root = await tempDir("hpauth-fleet-");
  script = await writeRedisRunner(root, await bundleRedisEngine(root));
  emu = await startEmulator({ port: 0 });
  redis = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always"] });
}, 60_000);

afterAll(async () => {
  await cleanup(root, children);
  await emu?.close();
  await redis?.dispose();
});

const newPrefix = () => `fleet-${randomBytes(4).toString("hex")}:`;

function spawnFleet(prefix: string, n: number, extra: { lockTtlMs?: number } = {}): Child[] {
  const { profile, secrets } = arubaEnv(emu);
  const fleet = Array.from({ length: n }, (_, i) =>
    fleetRunner(script, {
      host: i % HOSTS,
      root,
      profile,
      secrets,
      redisUrl: redis.url,
      prefix,
      mode: "race",
      ...extra,
    }),
  );
  children.push(...fleet);
  return fleet;
}

async function race(fleet: Child[]) {
  await Promise.all(fleet.map((c) => c.waitFor((l) => l === "ready", 30_000)));
  for (const c of fleet) c.proc.kill("SIGUSR2");
  await Promise.all(fleet.map((c) => c.exited));
  return fleet.map((c) => ({ ...fleetResult(c), exit: c.proc.exitCode, stderr: c.stderr() }));
}

/** A real login into the Redis store with the engine's clock `shiftS` seconds behind (so the token is expired now). */
async function seed(prefix: string, shiftS: number) {
  const { profile, secrets } = arubaEnv(emu);
  const store = new RedisTokenStore({ url: redis.url, prefix });
  const m = createTokenManager({ profile, store, runtime: { now: () => Date.now() - shiftS * 1000, env: secrets } });
  await m.login();
  const rec = await store.get(m.key);
  await store.close();
  await emu.admin.advanceClock(shiftS);
  return rec!;
}

/** A login just now whose access token is then marked invalid: expired, with Aruba's login budget spent. */
async function seedRecent(prefix: string) {
  const { profile, secrets } = arubaEnv(emu);
  const store = new RedisTokenStore({ url: redis.url, prefix });
  const m = createTokenManager({ profile, store, runtime: { env: secrets } });
  const t = await m.login();
  await m.invalidate(t.accessToken);
  const rec = await store.get(m.key);
  await store.close();
  return rec!;
}

async function stored(prefix: string) {
  const store = new RedisTokenStore({ url: redis.url, prefix });
  try {
    return await store.get(createTokenManager({ profile: arubaEnv(emu).profile, store }).key);
  } finally {
    await store.close();
  }
}

it(`cold credential: ${N} processes on ${HOSTS} hosts × ${ROUNDS} rounds — 1 login each round, 0 failures, one token`, async () => {
  for (let round = 0; round < ROUNDS; round++) {
    await emu.admin.advanceClock(1801); // Aruba's one-login-per-30-minutes budget of the emulator
    const prefix = newPrefix();
    const before = await arubaCounters(emu);
    const results = await race(spawnFleet(prefix, N));
    const after = await arubaCounters(emu);
    for (const r of results) expect(r.exit, r.stderr.slice(-1500)).toBe(0);
    expect(after.logins - before.logins).toBe(1);
    expect(after.tokenRequests - before.tokenRequests).toBe(1);
    expect(new Set(results.map((r) => r.tokenHash)).size).toBe(1);
    expect(results.filter((r) => r.source === "login")).toHaveLength(1);
    expect(new Set(results.map((r) => r.host)).size).toBe(HOSTS);
  }
}, 180_000);

it(`expired credential: ${N} processes on ${HOSTS} hosts × ${ROUNDS} rounds — 1 refresh each round, 0 failures`, async () => {
  for (let round = 0; round < ROUNDS; round++) {
    await emu.admin.advanceClock(1801);
    const prefix = newPrefix();
    const seeded = await seed(prefix, SHIFT_S);
    const before = await arubaCounters(emu);
    const results = await race(spawnFleet(prefix, N));
    const after = await arubaCounters(emu);
    for (const r of results) expect(r.exit, r.stderr.slice(-1500)).toBe(0);
    expect(after.refreshes - before.refreshes).toBe(1);
    expect(after.logins - before.logins).toBe(0);
    expect(after.tokenRequests - before.tokenRequests).toBe(1);
    expect(new Set(results.map((r) => r.tokenHash)).size).toBe(1);
    const rec = await stored(prefix);
    expect(rec?.refreshToken).not.toBe(seeded.refreshToken);
  }
}, 180_000);

/** Starts the holder alone, stops it at `pauseAt`, lets the others race past its lease, then continues it. */
async function stopHolder(pauseAt: "read" | "commit", opts: { recentLogin?: boolean } = {}) {
  await emu.admin.advanceClock(1801);
  const prefix = newPrefix();
  const seeded = opts.recentLogin ? await seedRecent(prefix) : await seed(prefix, SHIFT_S);
  const { profile, secrets } = arubaEnv(emu);
  const ttl = 1000;
  const before = await arubaCounters(emu);
  const holder = fleetRunner(script, {
    host: 0,
    root,
    profile,
    secrets,
    redisUrl: redis.url,
    prefix,
    mode: "once",
    lockTtlMs: ttl,
    pauseAt,
  });
  children.push(holder);
  await holder.waitFor((l) => l === `paused ${pauseAt}`, 30_000);
  holder.proc.kill("SIGSTOP");
  await sleep(ttl + 300); // its lease runs out
  const others = spawnFleet(prefix, 6, { lockTtlMs: ttl });
  const results = await race(others);
  holder.proc.kill("SIGCONT");
  await holder.exited;
  const after = await arubaCounters(emu);
  return {
    seeded,
    prefix,
    holder: { ...fleetResult(holder), exit: holder.proc.exitCode, stderr: holder.stderr() },
    results,
    before,
    after,
  };
}

it("holder SIGSTOPped past its lease before its request: the successor refreshes once, the holder serves that token", async () => {
  const { holder, results, before, after, prefix } = await stopHolder("read");
  for (const r of results) expect(r.exit, r.stderr.slice(-1500)).toBe(0);
  expect(holder.exit, holder.stderr.slice(-1500)).toBe(0);
  expect(after.refreshes - before.refreshes).toBe(1);
  expect(after.logins - before.logins).toBe(0);
  const tokens = new Set([...results, holder].map((r) => r.tokenHash));
  expect(tokens.size).toBe(1);
  // No lost rotation: the stored refresh token is the live one (a forced refresh with it succeeds).
  const { profile, secrets } = arubaEnv(emu);
  const store = new RedisTokenStore({ url: redis.url, prefix });
  const m = createTokenManager({ profile, store, runtime: { env: secrets } });
  expect((await m.getToken({ forceRefresh: true })).source).toBe("refresh");
  await store.close();
}, 120_000);

it("holder SIGSTOPped after the server rotated, before its commit (login budget spent): the rotation is saved, not lost", async () => {
  const { holder, results, before, after, prefix } = await stopHolder("commit", { recentLogin: true });
  // The holder's refresh succeeded at the server; the successors' attempt with the spent refresh token is refused,
  // and Aruba's login budget (a login a moment ago) keeps them from a second login: a clear error, exit 4. The
  // continued holder finds the grant marked dead, nothing newer, and saves its rotation.
  expect(holder.exit, holder.stderr.slice(-1500)).toBe(0);
  expect(holder.source).toBe("refresh");
  expect(after.refreshes - before.refreshes).toBe(1);
  expect(after.logins - before.logins).toBe(0);
  for (const r of results) {
    if (r.exit !== 0) expect(r.code, r.stderr.slice(-800)).toBe("LOGIN_BUDGET_EXHAUSTED");
  }
  const rec = await stored(prefix);
  expect(tokenHash(rec?.accessToken ?? "")).toBe(holder.tokenHash);
  // The saved refresh token is the rotated, live one.
  const { profile, secrets } = arubaEnv(emu);
  const store = new RedisTokenStore({ url: redis.url, prefix });
  const m = createTokenManager({ profile, store, runtime: { env: secrets } });
  expect((await m.getToken({ forceRefresh: true })).source).toBe("refresh");
  await store.close();
}, 120_000);

it("Redis restarted mid-refresh: the holder's commit waits for Redis and succeeds; nothing is lost silently", async () => {
  await emu.admin.advanceClock(1801);
  const prefix = newPrefix();
  await seed(prefix, SHIFT_S);
  const { profile, secrets } = arubaEnv(emu);
  const before = await arubaCounters(emu);
  const holder = fleetRunner(script, {
    host: 1,
    root,
    profile,
    secrets,
    redisUrl: redis.url,
    prefix,
    mode: "once",
    pauseAt: "commit",
  });
  children.push(holder);
  await holder.waitFor((l) => l === "paused commit", 30_000);
  await redis.stop("SIGKILL"); // the worst case: no shutdown save; appendfsync always keeps acknowledged writes
  setTimeout(() => void redis.start(), 1500);
  await holder.exited;
  const r = fleetResult(holder);
  expect(holder.proc.exitCode, holder.stderr().slice(-1500)).toBe(0);
  expect(r.source).toBe("refresh");
  expect(holder.stderr()).toMatch(/unreachable|reconnecting/);
  const after = await arubaCounters(emu);
  expect(after.refreshes - before.refreshes).toBe(1);
  const rec = await stored(prefix);
  expect(tokenHash(rec?.accessToken ?? "")).toBe(r.tokenHash);
}, 120_000);

it("Redis down for longer than the commit retry: STORE_ERROR and a message that says exactly what was not saved", async () => {
  await emu.admin.advanceClock(1801);
  const prefix = newPrefix();
  await seed(prefix, SHIFT_S);
  const { profile, secrets } = arubaEnv(emu);
  const holder = fleetRunner(script, {
    host: 2,
    root,
    profile,
    secrets,
    redisUrl: redis.url,
    prefix,
    mode: "once",
    pauseAt: "commit",
    commitRetryMs: 1500,
  });
  children.push(holder);
  await holder.waitFor((l) => l === "paused commit", 30_000);
  await redis.stop();
  try {
    await holder.exited;
  } finally {
    await redis.start();
  }
  const r = fleetResult(holder);
  expect(r.ok).toBe(false);
  expect(r.code).toBe("STORE_ERROR");
  expect(r.message).toMatch(/Could not save the new token/);
  expect(r.hint).toMatch(/Not saved: the rotated refresh token and the access token valid until \d{4}-\d\d-\d\dT/);
}, 120_000);

it("holder SIGSTOPped before its commit, budget free: a successor's new login is kept, the holder serves it", async () => {
  const { holder, results, before, after, prefix } = await stopHolder("commit");
  // The successors' refresh with the spent token is refused; one of them logs in (the budget allows it). The
  // continued holder's commit is refused by the fence — the newer grant is not overwritten — and it serves it.
  expect(holder.exit, holder.stderr.slice(-1500)).toBe(0);
  expect(holder.stderr).toMatch(/"type":"superseded"/);
  for (const r of results) expect(r.exit, r.stderr.slice(-1500)).toBe(0);
  expect(after.refreshes - before.refreshes).toBe(1);
  expect(after.logins - before.logins).toBe(1);
  const rec = await stored(prefix);
  expect(new Set([holder.tokenHash, ...results.map((r) => r.tokenHash)])).toEqual(
    new Set([tokenHash(rec?.accessToken ?? "")]),
  );
}, 120_000);
