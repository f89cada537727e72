// hpauth benchmarks. Machines here are shared and noisy, so every figure is a RATIO against a baseline measured in
// the same run, interleaved with it (A B A B …, alternating which goes first), as the median of many runs.
//
//   npm run bench            (builds, then runs this)
//   node bench/run.mjs       (needs a build: dist/ and bin/hpauth.js)
//   node bench/run.mjs --json        one JSON document on stdout
//   node bench/run.mjs --quick       fewer repetitions (a smoke run)
//   node bench/run.mjs --only cli    just benchmark 1 (--rounds N: its rounds, default 30)
//
// What is measured (see BENCHMARKS.md):
//   1. cached `hpauth token` wall time (file store holding a valid GreenLake token, emulator on loopback) ÷ `node -e 0`:
//      flags-only, `-p NAME` from a TOML file, `header`, `--json`, and the full CLI (HPAUTH_PROBE=off)
//   2. in-process cached getToken() ns/call (memory store; file store) ÷ an async Map.get (and ÷ readFile+JSON.parse)
//   3. token-endpoint calls when N = 1, 4, 16 `hpauth token` processes start on one expired Aruba credential
//   4. bench/store.mjs (FileTokenStore latency against plain-fs baselines), run as a child, folded in
import { execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = join(here, "..");
const bin = join(repo, "bin", "hpauth.js");
const asJson = process.argv.includes("--json");
const quick = process.argv.includes("--quick");
// --only cli: just benchmark 1 (the cached CLI calls), ≈ 15 s.
const onlyCli = process.argv.includes("--only") && process.argv[process.argv.indexOf("--only") + 1] === "cli";
// --rounds N: rounds of benchmark 1 (default 30): more of them steady the medians on a loaded machine.
const cliRounds = process.argv.includes("--rounds")
  ? Number(process.argv[process.argv.indexOf("--rounds") + 1])
  : undefined;

const { startEmulator } = await import(join(repo, "dist", "emulator", "index.js"));
const { createTokenManager, MemoryTokenStore } = await import(join(repo, "dist", "index.js"));
const { FileTokenStore } = await import(join(repo, "dist", "stores", "file.js"));

const log = (line) => {
  if (!asJson) process.stderr.write(`${line}\n`);
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Runs a process to completion; resolves with wall time (ms), exit code and output. */
function run(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (c) => {
      out += c;
    });
    p.stderr.setEncoding("utf8").on("data", (c) => {
      err += c;
    });
    p.on("error", reject);
    p.on("close", (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code, out, err }));
  });
}

const root = await mkdtemp(join(tmpdir(), "hpauth-bench-"));
const xdg = join(root, "xdg");
await mkdir(xdg, { recursive: true });
const emu = await startEmulator({ port: 0 });
const results = {};
const started = Date.now();

try {
  const gl = emu.providers.greenlake;
  const aruba = emu.providers["aruba-central"];
  // Secrets go by environment variable name, never in argv; empty XDG dirs keep the user's config out.
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: xdg,
    XDG_CONFIG_HOME: xdg,
    XDG_DATA_HOME: xdg,
    BENCH_GL_SECRET: gl.clientSecret,
    BENCH_ARUBA_SECRET: aruba.clientSecret,
    BENCH_ARUBA_PASSWORD: aruba.password,
  };

  // ---- 1. cached `hpauth token` vs `node -e 0` -----------------------------------------------------------------
  // Each form of a cached call, all interleaved with `node -e 0` in one run (every round runs each subject and the
  // baseline, in a new shuffled order each round): the flags-only profile (`--provider … --store-dir`), `-p NAME` from a TOML config
  // file at the default location (default store directory too), `header`, `token --json`, and the flags-only form
  // once more with HPAUTH_PROBE=off: the full CLI, i.e. the path every cached call took before the probe.
  {
    const storeDir = join(root, "cli-cache");
    const flags = [
      "--provider",
      "greenlake",
      "--base-url",
      gl.baseUrl,
      "--client-id",
      gl.clientId,
      "--client-secret-env",
      "BENCH_GL_SECRET",
      "--store-dir",
      storeDir,
    ];
    const cfgHome = join(root, "cfg-home");
    await mkdir(join(cfgHome, "hpauth"), { recursive: true });
    await writeFile(
      join(cfgHome, "hpauth", "config.toml"),
      `default_profile = "gl"\n\n[profiles.gl]\nprovider = "greenlake"\nbase_url = "${gl.baseUrl}"\nclient_id = "${gl.clientId}"\nclient_secret_env = "BENCH_GL_SECRET"\n\n[profiles.other]\nprovider = "greenlake"\nregion = "eu1"\nclient_id = "x"\nclient_secret_env = "X"\n`,
      { mode: 0o600 },
    );
    const tomlEnv = { ...env, XDG_CONFIG_HOME: cfgHome, XDG_DATA_HOME: join(root, "cfg-data") };
    const subjects = {
      flags: { what: "`hpauth token --provider … --store-dir DIR`", args: [bin, "token", ...flags], env },
      toml: { what: "`hpauth token -p gl` (TOML config file)", args: [bin, "token", "-p", "gl"], env: tomlEnv },
      header: { what: "`hpauth header --provider …`", args: [bin, "header", ...flags], env },
      json: { what: "`hpauth token --json -p gl` (TOML)", args: [bin, "token", "--json", "-p", "gl"], env: tomlEnv },
      full: {
        what: "`hpauth token --provider …` with HPAUTH_PROBE=off (the full CLI)",
        args: [bin, "token", ...flags],
        env: { ...env, HPAUTH_PROBE: "off" },
      },
    };
    for (const [name, s] of Object.entries(subjects)) {
      const first = await run([...s.args, "--json"], s.env);
      if (first.code !== 0) throw new Error(`${name}: hpauth failed (exit ${first.code}): ${first.err.slice(-500)}`);
      const check = await run([...s.args.filter((a) => a !== "--json"), "--json"], { ...s.env, HPAUTH_PROBE: "off" });
      const source = JSON.parse(check.out).source;
      if (source !== "cache") throw new Error(`${name}: expected a cached token on the second call, got ${source}`);
    }
    const rounds = cliRounds ?? (quick ? 8 : 30);
    const names = Object.keys(subjects);
    const node0 = [];
    const ms = Object.fromEntries(names.map((n) => [n, []]));
    const pair = Object.fromEntries(names.map((n) => [n, []]));
    for (let i = 0; i < 3; i++) await run(["-e", "0"], env); // warm the page cache
    let seed = 12;
    for (let i = 0; i < rounds; i++) {
      // A new order every round (a seeded shuffle): a fixed cycle would give each subject the same neighbour every
      // round (the baseline always right after the heavy full CLI, say), a bias no number of rounds removes.
      const seq = ["node0", ...names];
      for (let j = seq.length - 1; j > 0; j--) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const r = seed % (j + 1);
        [seq[j], seq[r]] = [seq[r], seq[j]];
      }
      const got = {};
      for (const n of seq) {
        if (n === "node0") got.node0 = await run(["-e", "0"], env);
        else {
          const r = await run(subjects[n].args, subjects[n].env);
          if (r.code !== 0 || r.err !== "") throw new Error(`${n}: exit ${r.code}: ${r.err.slice(-300)}`);
          got[n] = r;
        }
      }
      node0.push(got.node0.ms);
      for (const n of names) {
        ms[n].push(got[n].ms);
        pair[n].push(got[n].ms / got.node0.ms);
      }
    }
    results.cliCachedToken = {
      what: "cached `hpauth token|header` (file store, GreenLake) wall time ÷ `node -e 0`, interleaved",
      runs: rounds,
      nodeE0Ms: round(median(node0), 1),
      subjects: Object.fromEntries(
        names.map((n) => [
          n,
          {
            what: subjects[n].what,
            ratio: round(median(pair[n])),
            ratioOfMedians: round(median(ms[n]) / median(node0)),
            medianMs: round(median(ms[n]), 1),
            overheadMs: round(median(ms[n]) - median(node0), 1),
          },
        ]),
      ),
    };
    for (const n of names) log(`1. cached ${n}: ×${results.cliCachedToken.subjects[n].ratio} of node -e 0`);
  }
  // ---- 2. in-process cached getToken() --------------------------------------------------------------------------
  if (!onlyCli) {
    const profile = {
      name: "bench",
      provider: "greenlake",
      baseUrl: gl.baseUrl,
      clientId: gl.clientId,
      clientSecretEnv: "BENCH_GL_SECRET",
    };
    const runtime = { env };
    const mem = createTokenManager({ profile, store: new MemoryTokenStore(), runtime });
    const fileStore = new FileTokenStore({ dir: join(root, "lib-cache") });
    const file = createTokenManager({ profile, store: fileStore, runtime });
    if ((await mem.getToken()).source !== "login") throw new Error("memory manager: expected a first grant");
    if ((await file.getToken()).source !== "login") throw new Error("file manager: expected a first grant");
    if ((await mem.getToken()).source !== "cache" || (await file.getToken()).source !== "cache")
      throw new Error("expected cached tokens");
    const recordFile = fileStore.fileFor(file.key);

    const map = new Map([["k", { accessToken: "x", expiresAt: Date.now() + 3_600_000 }]]);
    // The baseline is the least an async token getter can cost: an awaited Map lookup.
    async function mapGet() {
      const r = map.get("k");
      return r && r.expiresAt > Date.now() ? r : undefined;
    }
    async function readParse() {
      return JSON.parse(await readFile(recordFile, "utf8"));
    }
    async function batch(fn, n) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await fn();
      return Number(process.hrtime.bigint() - t0) / n; // ns per call
    }
    async function compare(fn, base, n, rounds) {
      await batch(fn, Math.min(n, 500));
      await batch(base, Math.min(n, 500));
      const a = [];
      const b = [];
      const r = [];
      for (let i = 0; i < rounds; i++) {
        let x;
        let y;
        if (i % 2 === 0) {
          y = await batch(base, n);
          x = await batch(fn, n);
        } else {
          x = await batch(fn, n);
          y = await batch(base, n);
        }
        a.push(x);
        b.push(y);
        r.push(x / y);
      }
      return { nsPerCall: round(median(a), 0), baselineNsPerCall: round(median(b), 0), ratio: round(median(r), 1) };
    }
    const r = quick ? 5 : 15;
    results.getTokenMemory = {
      what: "cached getToken(), MemoryTokenStore, ns/call ÷ awaited Map.get",
      rounds: r,
      ...(await compare(() => mem.getToken(), mapGet, 20_000, r)),
    };
    log(
      `2a. getToken (memory): ${results.getTokenMemory.nsPerCall} ns/call, ×${results.getTokenMemory.ratio} of Map.get`,
    );
    results.getTokenFile = {
      what: "cached getToken(), FileTokenStore, ns/call ÷ awaited Map.get",
      rounds: r,
      ...(await compare(() => file.getToken(), mapGet, quick ? 300 : 1000, r)),
    };
    const vsRead = await compare(() => file.getToken(), readParse, quick ? 300 : 1000, r);
    results.getTokenFile.vsReadFileJsonParse = {
      ratio: vsRead.ratio,
      baselineNsPerCall: vsRead.baselineNsPerCall,
    };
    log(
      `2b. getToken (file): ${results.getTokenFile.nsPerCall} ns/call, ×${results.getTokenFile.ratio} of Map.get, ×${vsRead.ratio} of readFile+JSON.parse`,
    );
  }

  // ---- 3. N processes on one expired credential -----------------------------------------------------------------
  if (!onlyCli) {
    const storeDir = join(root, "cli-race");
    const profile = {
      name: "bench-aruba",
      provider: "aruba-central",
      baseUrl: aruba.baseUrl,
      clientId: aruba.clientId,
      clientSecretEnv: "BENCH_ARUBA_SECRET",
      username: aruba.username,
      passwordEnv: "BENCH_ARUBA_PASSWORD",
      customerId: aruba.customerId,
    };
    const store = new FileTokenStore({ dir: storeDir });
    // One real login with the engine's clock set 2 h 5 min back: Aruba's login budget is then long spent by the
    // CLI's (wall) clock, so a failure of the single-flight would show as a login, not be hidden by the budget.
    const SHIFT_MS = (7200 + 300) * 1000;
    const seeder = createTokenManager({ profile, store, runtime: { env, now: () => Date.now() - SHIFT_MS } });
    await seeder.login();
    const key = seeder.key;
    const args = [
      bin,
      "token",
      "--json",
      "--provider",
      "aruba-central",
      "--base-url",
      aruba.baseUrl,
      "--client-id",
      aruba.clientId,
      "--client-secret-env",
      "BENCH_ARUBA_SECRET",
      "--username",
      aruba.username,
      "--password-env",
      "BENCH_ARUBA_PASSWORD",
      "--customer-id",
      aruba.customerId,
      "--store-dir",
      storeDir,
    ];
    const rounds = quick ? 1 : 3;
    results.expiredRace = {
      what: "token-endpoint calls when N `hpauth token` processes start on one expired Aruba credential",
      byN: {},
    };
    for (const n of [1, 4, 16]) {
      const rows = [];
      for (let i = 0; i < rounds; i++) {
        // Expire it on both clocks: the stored expiry (the CLI's wall clock) and the emulator's.
        const rec = await store.get(key);
        await store.set(key, { ...rec, expiresAt: Date.now() - 1000, updatedAt: Date.now() });
        await emu.admin.advanceClock(7300);
        await emu.admin.resetCounters();
        const t0 = Date.now();
        const outs = await Promise.all(Array.from({ length: n }, () => run(args, env)));
        const wallMs = Date.now() - t0;
        const c = (await emu.admin.counters())["aruba-central"];
        const failed = outs.filter((o) => o.code !== 0).length;
        const tokens = new Set(outs.filter((o) => o.code === 0).map((o) => JSON.parse(o.out).access_token));
        rows.push({
          refreshes: c.refreshes,
          logins: c.logins,
          tokenRequests: c.tokenRequests,
          failed,
          distinctTokens: tokens.size,
          wallMs,
        });
      }
      const sum = (k) => rows.reduce((s, r) => s + r[k], 0);
      results.expiredRace.byN[n] = {
        runs: rounds,
        refreshesPerRun: round(sum("refreshes") / rounds),
        loginsPerRun: round(sum("logins") / rounds),
        tokenRequestsPerRun: round(sum("tokenRequests") / rounds),
        refreshesPerProcess: round(sum("refreshes") / rounds / n, 3),
        failedProcesses: sum("failed"),
        distinctTokensPerRun: round(sum("distinctTokens") / rounds),
        medianWallMs: round(median(rows.map((r) => r.wallMs)), 0),
        target: "1 token request (a refresh), 0 logins, 0 failed, 1 distinct token per run",
        met: rows.every(
          (r) =>
            r.tokenRequests === 1 && r.refreshes === 1 && r.logins === 0 && r.failed === 0 && r.distinctTokens === 1,
        ),
      };
      log(`3. N=${n}: ${JSON.stringify(results.expiredRace.byN[n])}`);
    }
  }

  // ---- 4. bench/store.mjs ---------------------------------------------------------------------------------------
  if (!onlyCli) {
    const s = await run([join(here, "store.mjs"), "--json"], process.env);
    if (s.code !== 0) throw new Error(`bench/store.mjs failed: ${s.err.slice(-500)}`);
    results.store = JSON.parse(s.out.trim().split("\n").at(-1));
    log("4. store: done");
  }
} finally {
  await emu.close();
  await rm(root, { recursive: true, force: true });
}

let commit = "unknown";
try {
  commit = execFileSync("git", ["-C", repo, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  if (execFileSync("git", ["-C", repo, "status", "--porcelain", "--", "src", "bench"], { encoding: "utf8" }).trim())
    commit += "+dirty";
} catch {}
const machine = {
  commit,
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model ?? "unknown",
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  // The machine is shared: the load average (1, 5, 15 min) at the end of the run says how noisy the figures are.
  loadavg: loadavg().map((x) => round(x, 2)),
};
const doc = { machine, totalSeconds: round((Date.now() - started) / 1000, 1), results };

if (asJson) {
  console.log(JSON.stringify(doc, null, 2));
} else {
  const rows = [];
  const c = results.cliCachedToken;
  for (const r of Object.values(c.subjects)) {
    rows.push([
      `cached ${r.what} ÷ \`node -e 0\``,
      `×${r.ratio}`,
      `${r.medianMs} ms vs ${c.nodeE0Ms} ms (+${r.overheadMs} ms), ${c.runs} rounds`,
    ]);
  }
  const m = results.getTokenMemory;
  if (m)
    rows.push([
      "getToken() cached, memory store ÷ Map.get",
      `×${m.ratio}`,
      `${m.nsPerCall} ns vs ${m.baselineNsPerCall} ns per call`,
    ]);
  const f = results.getTokenFile;
  if (f)
    rows.push([
      "getToken() cached, file store ÷ Map.get",
      `×${f.ratio}`,
      `${f.nsPerCall} ns vs ${f.baselineNsPerCall} ns per call`,
    ]);
  if (f)
    rows.push([
      "getToken() cached, file store ÷ readFile+JSON.parse",
      `×${f.vsReadFileJsonParse.ratio}`,
      `baseline ${f.vsReadFileJsonParse.baselineNsPerCall} ns per call`,
    ]);
  for (const [n, r] of Object.entries(results.expiredRace?.byN ?? {})) {
    rows.push([
      `N=${n} processes, expired Aruba credential`,
      `${r.tokenRequestsPerRun} token request(s) / run`,
      `${r.refreshesPerRun} refresh, ${r.loginsPerRun} login / run; ${round(r.tokenRequestsPerRun / Number(n), 3)} token requests per process, ${r.failedProcesses} failed, ${r.distinctTokensPerRun} token(s), ${r.medianWallMs} ms, ${r.met ? "target met" : "TARGET MISSED"}`,
    ]);
  }
  for (const r of Object.values(results.store?.results ?? {})) {
    rows.push([
      `store: ${r.name} ÷ ${r.baseline}`,
      `×${r.ratio.toFixed(2)}`,
      `p50 ${r.subject.p50.toFixed(0)} µs vs ${r.base.p50.toFixed(0)} µs, ${r.iterations} interleaved pairs`,
    ]);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(
    `hpauth benchmarks — commit ${machine.commit}, node ${machine.node}, ${machine.platform}, nproc ${machine.nproc} (${machine.cpu}), load average ${machine.loadavg.join(" ")}`,
  );
  console.log(`${"benchmark".padEnd(w0)}  ${"ratio".padEnd(w1)}  detail`);
  console.log(`${"-".repeat(w0)}  ${"-".repeat(w1)}  ------`);
  for (const r of rows) console.log(`${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`);
  console.log(`(total ${doc.totalSeconds} s)`);
}
