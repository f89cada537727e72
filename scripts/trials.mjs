#!/usr/bin/env node
// SIGKILL trials: real processes refreshing rotating credentials (Aruba Central, TechPulse) against the emulator over
// real sockets, through the real file store, killed at random moments across the lock → request → persist window.
//
//   npm run trials -- --kills 1000 --seed 7           (default: 200 kills, seed 1, 2 lanes)
//   node scripts/trials.mjs --kills 30 --json          one JSON report on stdout
//   options: --kills N  --seed S  --lanes L (parallel lanes, default 2)  --providers aruba-central,techpulse
//            --max-delay-ms D (kill up to D ms after the child's first token, default 60)
//
// Each lane has its own emulator (own clock and counters) and token directory. In a lane, child k runs forced
// refreshes in a loop (each one: lock → request → persist → print) and is SIGKILLed a random delay after its first
// token; child k+1 is started at once and its first forced refresh is the verdict on kill k. Around each kill the
// runner reads the emulator's counters, the record file and any temp file, and the hashes of the refresh tokens the
// child received (its fetch is wrapped to print a hash of each token response's refresh token to stderr, synchronously,
// before the engine sees the response — never a token). Where a kill landed:
//   clean      no rotation in flight: the server's newest refresh token is the stored one
//   persisted  rotated, answer received, record renamed into place before the kill
//   temp       rotated, answer received and complete in the temp file, killed before the rename: must be recovered
//   memory     rotated, answer received, killed before it was completely in the temp file: lost in process memory
//   wire       rotated by the server, the answer never reached the process: lost on the wire
// Reported: corrupt stores (goal 0), grants lost with the answer on disk (clean/persisted/temp yet lost; goal 0),
// grants lost on the wire and in memory (explained in BENCHMARKS.md), logins burned by the verifying children
// (goal 0), and the time from each kill to the next successful token (goal: no ~5 s stale-lock wait).
//
// Deterministic given a seed where it can be: the provider of each lane and every kill delay come from the seed; where
// in its cycle a child is when the signal lands depends on the scheduler.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = join(here, "..");
const BANNER = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";
const ARUBA_WINDOW_S = 30 * 60;

/** mulberry32: small, seedable, good enough to spread kill delays. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hash = (s) => createHash("sha256").update(s).digest("hex").slice(0, 16);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function bundle(root) {
  const src = (p) => JSON.stringify(join(repo, "src", p));
  const childEntry = join(root, "child-entry.ts");
  await writeFile(
    childEntry,
    `export { createTokenManager } from ${src("engine/manager.ts")};\nexport { FileTokenStore } from ${src("stores/file.ts")};\n`,
  );
  const parentEntry = join(root, "parent-entry.ts");
  await writeFile(
    parentEntry,
    `export { createTokenManager } from ${src("engine/manager.ts")};\nexport { FileTokenStore } from ${src("stores/file.ts")};\n` +
      `export { startEmulator } from ${src("emulator/index.ts")};\nexport { scriptedBrowser } from ${src("cli/commands/demo-browser.ts")};\n`,
  );
  const opts = { bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning" };
  await build({ ...opts, entryPoints: [childEntry], outfile: join(root, "child-lib.mjs"), banner: { js: BANNER } });
  await build({ ...opts, entryPoints: [parentEntry], outfile: join(root, "parent-lib.mjs"), banner: { js: BANNER } });
  const child = join(root, "child.mjs");
  await writeFile(
    child,
    `import { createHash } from "node:crypto";
import { writeSync } from "node:fs";
import { createTokenManager, FileTokenStore } from ${JSON.stringify(pathToFileURL(join(root, "child-lib.mjs")).href)};
const env = process.env;
const offset = Number(env.TRIAL_CLOCK_OFFSET_MS ?? 0);
const hash = (s) => createHash("sha256").update(s).digest("hex").slice(0, 16);
// Synchronous writes: a marker written before the kill is in the pipe when the parent reads it.
const mark = (o) => writeSync(2, JSON.stringify(o) + "\\n");
const store = new FileTokenStore({ dir: env.TRIAL_STORE_DIR, onWarning: (m) => mark({ t: "warning", m }) });
const fetchTraced = async (input, init) => {
  const res = await globalThis.fetch(input, init);
  const text = await res.text();
  try {
    const doc = JSON.parse(text);
    if (typeof doc.refresh_token === "string") mark({ t: "answer", rt: hash(doc.refresh_token) });
  } catch {}
  return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
};
const m = createTokenManager({
  profile: JSON.parse(env.TRIAL_PROFILE),
  store,
  runtime: { now: () => Date.now() + offset, fetch: fetchTraced },
  // How long the lock took (the engine reports waits of 200 ms and more).
  onEvent: (e) => {
    if (e.type === "lock_acquired") mark({ t: "lock", waitedMs: e.waitedMs });
  },
});
for (let n = 1; ; n++) {
  const t0 = Date.now();
  try {
    const t = await m.getToken({ forceRefresh: true });
    console.log(JSON.stringify({ ok: true, n, source: t.source, ms: Date.now() - t0, at: Date.now() }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, n, code: e.code ?? "THROWN", message: String(e.message), ms: Date.now() - t0, at: Date.now() }));
    process.exit(typeof e.exitCode === "number" ? e.exitCode : 1);
  }
}
`,
  );
  return { lib: await import(pathToFileURL(join(root, "parent-lib.mjs")).href), child };
}

/** A child process with its stdout lines, stderr markers and exit, in a minimal environment (secrets by name). */
function start(script, env) {
  const proc = spawn(process.execPath, [script], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  const c = { proc, lines: [], markers: [], stderr: "", waiters: [] };
  let out = "";
  proc.stdout.setEncoding("utf8").on("data", (d) => {
    out += d;
    const parts = out.split("\n");
    out = parts.pop();
    for (const l of parts) {
      if (!l.startsWith("{")) continue;
      const r = JSON.parse(l);
      c.lines.push(r);
      for (const w of c.waiters.splice(0)) w();
    }
  });
  let err = "";
  proc.stderr.setEncoding("utf8").on("data", (d) => {
    c.stderr = (c.stderr + d).slice(-20_000);
    err += d;
    const parts = err.split("\n");
    err = parts.pop();
    for (const l of parts) {
      if (!l.startsWith("{")) continue;
      try {
        c.markers.push(JSON.parse(l));
      } catch {}
    }
  });
  c.exited = new Promise((resolve) => proc.on("close", (code, signal) => resolve({ code, signal })));
  void c.exited.then(() => {
    for (const w of c.waiters.splice(0)) w();
  });
  c.firstResult = async (timeoutMs) => {
    const end = Date.now() + timeoutMs;
    while (c.lines.length === 0) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        await sleep(20); // the last line may still be in the pipe
        if (c.lines.length) break;
        throw new Error(`trial child exited without a result: ${c.stderr.slice(-1500)}`);
      }
      if (Date.now() > end) throw new Error(`trial child gave no result in ${timeoutMs} ms: ${c.stderr.slice(-1500)}`);
      await Promise.race([new Promise((r) => c.waiters.push(r)), sleep(100)]);
    }
    return c.lines[0];
  };
  return c;
}

function profileFor(emu, provider) {
  const p = emu.providers[provider];
  if (provider === "aruba-central") {
    return {
      profile: {
        name: "trial-aruba",
        provider,
        baseUrl: p.baseUrl,
        clientId: p.clientId,
        clientSecretEnv: "TRIAL_SECRET",
        username: p.username,
        passwordEnv: "TRIAL_PASSWORD",
        customerId: p.customerId,
      },
      secrets: { TRIAL_SECRET: p.clientSecret, TRIAL_PASSWORD: p.password },
    };
  }
  return {
    profile: {
      name: "trial-techpulse",
      provider,
      baseUrl: p.baseUrl,
      clientId: p.clientId,
      clientSecretEnv: "TRIAL_SECRET",
      redirectUri: p.redirectUri,
    },
    secrets: { TRIAL_SECRET: p.clientSecret },
  };
}

/** What the disk holds for the lane's key: the record's refresh token hash (or why it is unreadable), temp files. */
async function inspectDisk(lib, lane) {
  const file = new lib.FileTokenStore({ dir: lane.storeDir, onWarning: () => {} }).fileFor(lane.key);
  const out = { recordRt: undefined, corrupt: undefined, temps: [], lockLeft: "none" };
  const lockPath = file.replace(/\.json$/, ".lock");
  try {
    JSON.parse(await readFile(join(lockPath, "owner"), "utf8"));
    out.lockLeft = "owned";
  } catch (e) {
    if (e.code !== "ENOENT") out.lockLeft = "unreadable owner";
    else
      out.lockLeft = await readdir(lockPath).then(
        () => "owner-less",
        () => "none",
      );
  }
  try {
    const doc = JSON.parse(await readFile(file, "utf8"));
    if (doc.key !== lane.key) out.corrupt = "wrong key";
    else if (typeof doc.record?.refreshToken !== "string") out.corrupt = "no refresh token";
    else out.recordRt = hash(doc.record.refreshToken);
  } catch (e) {
    out.corrupt = e.code === "ENOENT" ? "missing" : "does not parse";
  }
  const base = file.slice(lane.storeDir.length + 1);
  for (const n of await readdir(lane.storeDir)) {
    if (!(n.startsWith(`.${base}.`) && n.endsWith(".tmp"))) continue;
    let rt;
    try {
      const doc = JSON.parse(await readFile(join(lane.storeDir, n), "utf8"));
      if (typeof doc.record?.refreshToken === "string") rt = hash(doc.record.refreshToken);
    } catch {}
    out.temps.push({ complete: rt !== undefined, rt });
  }
  return out;
}

async function counters(lane) {
  return (await lane.emu.admin.counters())[lane.provider];
}

/** A real login by the runner (not a child): Aruba's three steps or TechPulse's browser flow, scripted. */
async function seed(lib, lane) {
  if (lane.provider === "aruba-central" && lane.seeded) {
    // Aruba allows one login per 30 minutes per client id: move the lane's emulator clock past the window.
    const c = await lane.emu.admin.advanceClock(ARUBA_WINDOW_S + 60);
    lane.offsetMs = c.offsetSeconds * 1000;
  }
  const { profile, secrets } = profileFor(lane.emu, lane.provider);
  const store = new lib.FileTokenStore({ dir: lane.storeDir, onWarning: () => {} });
  const info = lane.emu.providers[lane.provider];
  const offset = lane.offsetMs;
  const m = lib.createTokenManager({
    profile,
    store,
    runtime: { now: () => Date.now() + offset, env: secrets },
    ...(lane.provider === "techpulse"
      ? { authorizer: lib.scriptedBrowser({ username: info.username, password: info.password }) }
      : {}),
  });
  const t = await m.login();
  if (t.source !== "login") throw new Error(`seed: expected a login, got ${t.source}`);
  lane.key = m.key;
  lane.seeded = true;
  lane.seeds++;
}

function classify(kill, disk, answers, rotationsInFlight) {
  // The refresh token the server considers current, if the process ever saw it.
  if (rotationsInFlight <= 0) return "clean";
  if (answers.length < kill.refreshesDuringLife) return "wire";
  const newest = answers.at(-1);
  if (disk.recordRt === newest) return "persisted";
  if (disk.temps.some((t) => t.complete && t.rt === newest)) return "temp";
  return "memory";
}

const pct = (xs, p) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};

/** Runs the trials; resolves with the report (see the header). */
export async function runTrials(options = {}) {
  const kills = options.kills ?? 200;
  const seedValue = options.seed ?? 1;
  const lanesN = Math.max(1, Math.min(options.lanes ?? 2, kills));
  const providers = options.providers ?? ["aruba-central", "techpulse"];
  const maxDelayMs = options.maxDelayMs ?? 60;
  const log = options.log ?? (() => {});
  const root = await mkdtemp(join(tmpdir(), "hpauth-trials-"));
  const started = Date.now();
  const children = [];
  const lanes = [];
  const trials = [];
  try {
    const { lib, child: script } = await bundle(root);
    const runLane = async (i) => {
      const rand = rng(seedValue * 1000 + i);
      const provider = providers[i % providers.length];
      const emu = await lib.startEmulator({ port: 0 });
      const lane = { i, emu, provider, storeDir: join(root, `lane-${i}`), offsetMs: 0, seeds: 0, seeded: false };
      lanes.push(lane);
      await mkdir(lane.storeDir, { recursive: true });
      await seed(lib, lane);
      const share = Math.floor(kills / lanesN) + (i < kills % lanesN ? 1 : 0);
      const spawnChild = () => {
        const { profile, secrets } = profileFor(emu, provider);
        const c = start(script, {
          ...secrets,
          TRIAL_PROFILE: JSON.stringify(profile),
          TRIAL_STORE_DIR: lane.storeDir,
          TRIAL_CLOCK_OFFSET_MS: String(lane.offsetMs),
        });
        c.spawnedAt = Date.now();
        children.push(c);
        return c;
      };
      let before = await counters(lane);
      let child = spawnChild();
      let first = await child.firstResult(60_000);
      if (!first.ok) throw new Error(`lane ${i}: the first child failed after a fresh login: ${JSON.stringify(first)}`);
      for (let k = 0; k < share; k++) {
        const delay = rand() * maxDelayMs;
        await sleep(delay);
        child.proc.kill("SIGKILL");
        const exit = await child.exited;
        const killedAt = Date.now();
        // Let the emulator finish a request that fully arrived before the kill (it rotates, then writes to a
        // dead socket).
        await sleep(25);
        const after = await counters(lane);
        const disk = await inspectDisk(lib, lane);
        const answers = child.markers.filter((m) => m.t === "answer").map((m) => m.rt);
        const refreshed = child.lines.filter((l) => l.ok && l.source === "refresh").length;
        const kill = {
          lane: i,
          provider,
          delayMs: Math.round(delay),
          signal: exit.signal,
          tokensBeforeKill: child.lines.filter((l) => l.ok).length,
          refreshesDuringLife: after.refreshes - before.refreshes,
        };
        kill.phase = classify(kill, disk, answers, kill.refreshesDuringLife - refreshed);
        kill.corrupt = disk.corrupt;
        kill.completeTemp = disk.temps.some((t) => t.complete);
        kill.lockLeft = disk.lockLeft;

        // The verdict: the next process's first forced refresh.
        before = after;
        child = spawnChild();
        const verdictStart = await counters(lane);
        first = await child.firstResult(60_000);
        const verdictEnd = await counters(lane);
        kill.loginsBurned =
          verdictEnd.logins - verdictStart.logins + (verdictEnd.codes ?? 0) - (verdictStart.codes ?? 0);
        kill.nextTokenMs = first.at - killedAt;
        kill.childGetTokenMs = first.ms;
        await sleep(5); // stderr markers of the first token
        kill.lockWaitMs = child.markers.find((m) => m.t === "lock")?.waitedMs ?? 0;
        kill.recovered = child.markers.some((m) => m.t === "warning" && /Recovered the token record/.test(m.m));
        kill.outcome = first.ok ? (first.source === "refresh" ? "refreshed" : `served:${first.source}`) : "lost";
        if (!first.ok) {
          kill.lostCode = first.code;
          kill.lostMessage = first.message;
        }
        // A grant that survived must not have been a phase that lost it, and vice versa.
        kill.unexpected =
          (first.ok && (kill.phase === "wire" || kill.phase === "memory")) ||
          (!first.ok && !(kill.phase === "wire" || kill.phase === "memory")) ||
          (first.ok && first.source !== "refresh" && !kill.recovered);
        trials.push(kill);
        log(kill, trials.length, kills);
        if (!first.ok) {
          await child.exited;
          await seed(lib, lane);
          before = await counters(lane);
          child = spawnChild();
          first = await child.firstResult(60_000);
          if (!first.ok) throw new Error(`lane ${i}: a child failed after a fresh login: ${JSON.stringify(first)}`);
        }
      }
      child.proc.kill("SIGKILL");
      await child.exited;
    };
    await Promise.all(Array.from({ length: lanesN }, (_, i) => runLane(i)));
  } finally {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGKILL");
    await Promise.all(children.map((c) => c.exited));
    await Promise.all(lanes.map((l) => l.emu.close()));
    await rm(root, { recursive: true, force: true });
  }
  const count = (pred) => trials.filter(pred).length;
  const phases = {};
  for (const t of trials) phases[t.phase] = (phases[t.phase] ?? 0) + 1;
  const next = trials.map((t) => t.nextTokenMs);
  const inChild = trials.map((t) => t.childGetTokenMs);
  const byProvider = {};
  for (const p of providers) {
    const ts = trials.filter((t) => t.provider === p);
    byProvider[p] = {
      kills: ts.length,
      refreshed: ts.filter((t) => t.outcome === "refreshed").length,
      recovered: ts.filter((t) => t.recovered).length,
      lost: ts.filter((t) => t.outcome === "lost").length,
    };
  }
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["-C", repo, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    if (execFileSync("git", ["-C", repo, "status", "--porcelain", "--", "src", "scripts"], { encoding: "utf8" }).trim())
      commit += "+dirty";
  } catch {}
  return {
    commit,
    kills: trials.length,
    seed: seedValue,
    lanes: lanesN,
    maxDelayMs,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    byProvider,
    phases,
    corruptStores: count((t) => t.corrupt !== undefined),
    grantsLostWithAnswerOnDisk: count((t) => t.outcome === "lost" && !["wire", "memory"].includes(t.phase)),
    grantsLostOnWire: count((t) => t.outcome === "lost" && t.phase === "wire"),
    grantsLostInMemory: count((t) => t.outcome === "lost" && t.phase === "memory"),
    recoveredFromTemp: count((t) => t.recovered),
    refreshed: count((t) => t.outcome === "refreshed"),
    loginsBurned: trials.reduce((s, t) => s + t.loginsBurned, 0),
    unexpected: trials.filter((t) => t.unexpected),
    lostCodes: [...new Set(trials.filter((t) => t.lostCode).map((t) => t.lostCode))],
    nextTokenMs: { p50: pct(next, 0.5), p95: pct(next, 0.95), max: Math.max(0, ...next) },
    childGetTokenMs: { p50: pct(inChild, 0.5), p95: pct(inChild, 0.95), max: Math.max(0, ...inChild) },
    waitsOver3s: count((t) => t.nextTokenMs > 3000),
    lockLeft: Object.fromEntries(
      ["none", "owned", "owner-less", "unreadable owner"].map((k) => [k, count((t) => t.lockLeft === k)]),
    ),
    lockWaitMs: {
      p50: pct(
        trials.map((t) => t.lockWaitMs),
        0.5,
      ),
      p95: pct(
        trials.map((t) => t.lockWaitMs),
        0.95,
      ),
      max: Math.max(0, ...trials.map((t) => t.lockWaitMs)),
    },
    lockWaitsOver3s: count((t) => t.lockWaitMs > 3000),
    lostExample: trials.find((t) => t.lostMessage)?.lostMessage,
  };
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const json = process.argv.includes("--json");
  const report = await runTrials({
    kills: Number(arg("kills", 200)),
    seed: Number(arg("seed", 1)),
    lanes: Number(arg("lanes", 2)),
    maxDelayMs: Number(arg("max-delay-ms", 60)),
    providers: arg("providers", "aruba-central,techpulse").split(","),
    log: json
      ? () => {}
      : (_t, n, total) => {
          if (n % 50 === 0 || n === total) process.stderr.write(`  ${n}/${total} kills\n`);
        },
  });
  if (json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const r = report;
    const lines = [
      `SIGKILL trials at ${r.commit}: ${r.kills} kills, seed ${r.seed}, ${r.lanes} lanes, kill ≤ ${r.maxDelayMs} ms after a token, ${r.seconds} s`,
      `  where the kills landed:            ${JSON.stringify(r.phases)}`,
      `  corrupt stores:                     ${r.corruptStores}   (goal 0)`,
      `  grants lost, answer on disk:        ${r.grantsLostWithAnswerOnDisk}   (goal 0)`,
      `  grants lost on the wire:            ${r.grantsLostOnWire}   (server rotated, answer never reached the process)`,
      `  grants lost in process memory:      ${r.grantsLostInMemory}   (answer received, killed before it was on disk)`,
      `  recovered from a temp file:         ${r.recoveredFromTemp}`,
      `  next process refreshed:             ${r.refreshed}`,
      `  logins burned:                      ${r.loginsBurned}   (goal 0)`,
      `  kill → next token, ms:              p50 ${r.nextTokenMs.p50}, p95 ${r.nextTokenMs.p95}, max ${r.nextTokenMs.max}  (${r.waitsOver3s} over 3 s)`,
      `  next child's getToken, ms:          p50 ${r.childGetTokenMs.p50}, p95 ${r.childGetTokenMs.p95}, max ${r.childGetTokenMs.max}`,
      `  of which waiting for the lock, ms:  p50 ${r.lockWaitMs.p50}, p95 ${r.lockWaitMs.p95}, max ${r.lockWaitMs.max}  (${r.lockWaitsOver3s} over 3 s)`,
      `  lock left behind by the kill:       ${JSON.stringify(r.lockLeft)}`,
      `  by provider:                        ${JSON.stringify(r.byProvider)}`,
      `  unexpected outcomes:                ${r.unexpected.length}${r.unexpected.length ? ` ${JSON.stringify(r.unexpected.slice(0, 3))}` : ""}`,
    ];
    console.log(lines.join("\n"));
  }
  const bad =
    report.corruptStores +
    report.grantsLostWithAnswerOnDisk +
    report.loginsBurned +
    report.unexpected.length +
    report.lockWaitsOver3s;
  process.exit(bad === 0 ? 0 : 1);
}
