/**
 * 16 separate processes race on ONE expired Aruba Central credential in one file store. The guarantee: exactly one
 * refresh at the emulator, no login, no failure, and every process ends up with the same new access token.
 *
 * Time: the credential comes from a real three-step login made with the engine's clock set back by SHIFT, and the
 * emulator's clock is then moved forward by SHIFT. So both sides agree the access token died 100 s ago, while the
 * children run on the plain wall clock — and Aruba's login budget (claimed at the back-dated login) is long spent,
 * so a slip in the single-flight would show up as a login rather than be hidden by the budget.
 */
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import {
  arubaCounters,
  arubaEnv,
  bundleEngine,
  type Child,
  cleanup,
  lastResult,
  readRecord,
  runner,
  seedAruba,
  tempDir,
  tokenHash,
  writeRunner,
} from "./helpers.js";

const N = 16;
const LIFETIME_S = 7200;
const SHIFT_S = LIFETIME_S + 100;

let root: string;
let script: string;
let emu: Emulator;
const children: Child[] = [];

beforeAll(async () => {
  root = await tempDir("hpauth-e2e-race-");
  script = await writeRunner(root, await bundleEngine(root));
  emu = await startEmulator({ port: 0 });
}, 60_000);

afterAll(async () => {
  await cleanup(root, children);
  await emu?.close();
});

it(`${N} engine processes on one expired Aruba credential: one refresh, no login, one token`, async () => {
  const storeDir = join(root, "tokens");
  const { record: seeded, key } = await seedAruba(emu, storeDir, () => Date.now() - SHIFT_S * 1000);
  await emu.admin.advanceClock(SHIFT_S);
  expect(seeded.expiresAt).toBeLessThan(Date.now());
  const before = await arubaCounters(emu);

  const { profile, secrets } = arubaEnv(emu);
  for (let i = 0; i < N; i++) children.push(runner(script, { profile, secrets, storeDir, mode: "race" }));
  // Everyone loaded and waiting, then released at once: the race is on the lock, not on process start-up.
  await Promise.all(children.map((c) => c.waitFor((l) => l === "ready", 30_000)));
  for (const c of children) c.proc.kill("SIGUSR2");
  const exits = await Promise.all(children.map((c) => c.exited));

  for (const [i, x] of exits.entries())
    expect(x, children[i]!.stderr().slice(-2000)).toEqual({ code: 0, signal: null });
  const results = children.map(lastResult);
  const after = await arubaCounters(emu);
  expect(after.refreshes - before.refreshes).toBe(1);
  expect(after.logins - before.logins).toBe(0);
  expect(after.tokensIssued - before.tokensIssued).toBe(0);
  expect(after.tokenRequests - before.tokenRequests).toBe(1);

  const stored = await readRecord(storeDir, key);
  expect(stored?.accessToken).toBeDefined();
  expect(stored?.accessToken).not.toBe(seeded.accessToken);
  expect(stored?.refreshToken).not.toBe(seeded.refreshToken); // Aruba rotates
  const hashes = new Set(results.map((r) => r.tokenHash));
  expect(hashes).toEqual(new Set([tokenHash(stored?.accessToken ?? "")]));
  expect(results.filter((r) => r.source === "refresh")).toHaveLength(1);
  expect(results.filter((r) => r.source === "cache")).toHaveLength(N - 1);

  // The token they agree on is one the API takes.
  const res = await fetch(`${emu.providers["aruba-central"].baseUrl}/monitoring/v2/aps`, {
    headers: { authorization: `Bearer ${stored?.accessToken}` },
  });
  expect(res.status).toBe(200);
  await res.body?.cancel();
}, 90_000);
