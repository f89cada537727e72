// The cost of the "refresh in flight" marker (docs/reliability.md): one durable store write before each refresh.
// A refresh with the marker (the default) against the same refresh without it (`refreshMarker: false`), interleaved
// pair by pair (which goes first alternates), against the emulator on loopback, with the file store (temp file +
// fsync + rename + directory fsync per write) and the memory store. Reported: medians and the median per-pair ratio.
//
//   npm run build && node bench/refresh-marker.mjs [--json] [--quick]
//
// Each refresh is a real TechPulse refresh (rotating refresh token): the record's expiry is moved to the past, then
// getToken() takes the lock, re-reads, (writes the marker), sends the refresh, persists the rotated pair.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(fileURLToPath(new URL(".", import.meta.url)), "..");
const asJson = process.argv.includes("--json");
const rounds = process.argv.includes("--quick") ? 15 : 60;
const { startEmulator } = await import(join(repo, "dist", "emulator", "index.js"));
const { createTokenManager, MemoryTokenStore } = await import(join(repo, "dist", "index.js"));
const { FileTokenStore } = await import(join(repo, "dist", "stores", "file.js"));
const { scriptedBrowser } = await import(join(repo, "dist", "cli", "commands", "demo-browser.js")).catch(() => ({}));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const emu = await startEmulator({ port: 0 });
const root = await mkdtemp(join(tmpdir(), "hpauth-bench-marker-"));
try {
  const info = emu.providers.techpulse;
  const profile = (name) => ({
    name,
    provider: "techpulse",
    baseUrl: info.baseUrl,
    clientId: info.clientId,
    clientSecret: info.clientSecret,
    redirectUri: info.redirectUri,
  });
  if (!scriptedBrowser) throw new Error("dist/cli/commands/demo-browser.js not found: run npm run build");
  const authorizer = scriptedBrowser({ username: info.username, password: info.password, decision: "allow" });

  async function pair(kind) {
    const store = kind === "file" ? new FileTokenStore({ dir: join(root, kind) }) : new MemoryTokenStore();
    // Two credentials (two profiles → two keys), one per variant, each with its own grant.
    const make = (marker) =>
      createTokenManager({ profile: profile(`bench-${kind}-${marker}`), store, authorizer, refreshMarker: marker });
    const withMarker = make(true);
    const without = make(false);
    await withMarker.getToken();
    await without.getToken();
    const once = async (m) => {
      const rec = await store.get(m.key);
      await store.set(m.key, { ...rec, expiresAt: 0 });
      const t0 = process.hrtime.bigint();
      const t = await m.getToken();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (t.source !== "refresh") throw new Error(`expected a refresh, got ${t.source}`);
      return ms;
    };
    // Warm-up.
    for (let i = 0; i < 3; i++) {
      await once(withMarker);
      await once(without);
    }
    const a = [];
    const b = [];
    const ratios = [];
    for (let i = 0; i < rounds; i++) {
      let x;
      let y;
      if (i % 2 === 0) {
        x = await once(withMarker);
        y = await once(without);
      } else {
        y = await once(without);
        x = await once(withMarker);
      }
      a.push(x);
      b.push(y);
      ratios.push(x / y);
    }
    return {
      store: kind,
      rounds,
      with_marker_ms: round(median(a)),
      without_marker_ms: round(median(b)),
      added_ms: round(median(a) - median(b)),
      ratio: round(median(ratios), 3),
    };
  }

  const results = [await pair("memory"), await pair("file")];
  const counters = (await emu.admin.counters()).techpulse;
  const out = { results, refusals: counters.refusals, node: process.version };
  if (asJson) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    for (const r of results) {
      process.stdout.write(
        `refresh, ${r.store} store: with marker ${r.with_marker_ms} ms, without ${r.without_marker_ms} ms, ` +
          `+${r.added_ms} ms, ratio ×${r.ratio} (median of ${r.rounds} interleaved pairs)\n`,
      );
    }
    process.stdout.write(`emulator refusals: ${JSON.stringify(counters.refusals)}\n`);
  }
} finally {
  await emu.close();
  await rm(root, { recursive: true, force: true });
}
