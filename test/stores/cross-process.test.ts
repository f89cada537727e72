/**
 * Real processes contending for one credential: N children each do K read-modify-write increments under withLock.
 * A lost update (two holders at once, or a torn read) makes the final count fall short of N×K.
 */
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FileTokenStore } from "../../src/stores/file.js";
import { bundleStore, type Child, cleanup, record, startChild, tempDir, writeScript } from "./helpers.js";

const N = 12;
const K = 15;
let root: string;
let script: string;
const children: Child[] = [];

beforeAll(async () => {
  root = await tempDir();
  const storeUrl = await bundleStore(root);
  script = await writeScript(
    root,
    "increment.mjs",
    storeUrl,
    `
const [dir, key, k] = process.argv.slice(2);
const store = new FileTokenStore({ dir, lockTimeoutMs: 60_000 });
const seen = [];
for (let i = 0; i < Number(k); i++) {
  await store.withLock(key, async () => {
    const r = await store.get(key);
    // Yield between read and write so an unlocked store would interleave with the other processes.
    await new Promise((res) => setTimeout(res, Math.random() * 3));
    const n = (r?.meta?.n ?? 0) + 1;
    await store.set(key, { ...(r ?? { v: 1, provider: "techpulse" }), meta: { n }, updatedAt: Date.now() });
    seen.push(n);
  });
}
console.log(JSON.stringify(seen));
`,
  );
});
afterAll(() => cleanup(root, children));

it(`${N} processes × ${K} locked increments lose no update`, async () => {
  const dir = join(root, "tokens");
  const key = "profile:shared counter";
  await new FileTokenStore({ dir }).set(key, record({ meta: { n: 0 } }));
  for (let i = 0; i < N; i++) children.push(startChild(script, [dir, key, String(K)]));
  const results = await Promise.all(children.map((c) => c.exited));
  for (const [i, r] of results.entries()) expect(r, children[i]!.stderr()).toEqual({ code: 0, signal: null });
  const final = await new FileTokenStore({ dir }).get(key);
  expect(final?.meta).toEqual({ n: N * K });
  // Every value was produced exactly once: each holder saw its predecessor's write.
  const all = children.flatMap((c) => JSON.parse(c.lines.at(-1)!) as number[]).sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: N * K }, (_, i) => i + 1));
  expect(final?.provider).toBe("techpulse");
});
