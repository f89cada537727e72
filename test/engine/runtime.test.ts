/**
 * The default runtime: the real clock, randomness, fetch, sleep and environment, each of which a caller may replace
 * (tests tie `now` to the emulator's clock, the CLI passes its environment).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { defaultRuntime } from "../../src/engine/runtime.js";

describe("defaultRuntime", () => {
  it("the real clock, fresh random bytes of the size asked, the process environment", () => {
    const rt = defaultRuntime();
    const before = Date.now();
    const t = rt.now();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
    const a = rt.randomBytes(32);
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a).toHaveLength(32);
    expect(Buffer.from(a).equals(Buffer.from(rt.randomBytes(32)))).toBe(false);
    expect(rt.randomBytes(0)).toHaveLength(0);
    expect(rt.env).toBe(process.env);
  });

  it("fetch is the global fetch, over a real socket", async () => {
    const server = createServer((req, res) => res.end(`${req.method} ${req.url} ${req.headers["x-probe"]}`));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await defaultRuntime().fetch(`http://127.0.0.1:${port}/p?q=1`, {
        method: "POST",
        headers: { "x-probe": "yes" },
      });
      expect(await res.text()).toBe("POST /p?q=1 yes");
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("sleep waits at least the time asked, and stops when its signal aborts", async () => {
    const rt = defaultRuntime();
    const started = performance.now();
    await expect(rt.sleep(30)).resolves.toBeUndefined();
    // Timers may fire a millisecond early after rounding; never much earlier.
    expect(performance.now() - started).toBeGreaterThanOrEqual(28);
    const c = new AbortController();
    const pending = rt.sleep(60_000, c.signal);
    c.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await expect(rt.sleep(60_000, AbortSignal.abort())).rejects.toMatchObject({ name: "AbortError" });
    // A signal that never aborts does not stop it.
    await expect(rt.sleep(1, new AbortController().signal)).resolves.toBeUndefined();
  });

  it("what the caller gives replaces the default, the rest stays", () => {
    const env = { A: "1" };
    const rt = defaultRuntime({ now: () => 42, env });
    expect(rt.now()).toBe(42);
    expect(rt.env).toBe(env);
    expect(rt.randomBytes(4)).toHaveLength(4);
  });
});
