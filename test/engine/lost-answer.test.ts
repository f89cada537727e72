/**
 * A refresh that rotates is not idempotent (issue 7.1): once sent it is waited for much longer than an idempotent
 * request, never sent again while its outcome is unknown, and a lost answer is said as such (ANSWER_LOST), with a
 * durable "refresh in flight" marker that lets the next holder say for certain that a rotation was lost.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import { FileTokenStore } from "../../src/stores/file.js";
import { useHarness } from "./helpers.js";

const h = useHarness();
/**
 * Generous timeouts for every request whose speed is not the point: a loaded machine, or Stryker's instrumentation,
 * can make a plain login take seconds. Only the request a test is about gets a short timeout, and then the server is
 * made slower than it by far (or never answers), so what is asserted is behaviour, never the machine's speed.
 */
const RETRY = { retry: { attempts: 3, timeoutMs: 20_000, nonIdempotentTimeoutMs: 20_000, baseDelayMs: 10 } };
/** The faulted request's policy: idempotent requests give up after 300 ms; requests sent once wait 20 s. */
const SHORT = { ...RETRY.retry, timeoutMs: 300 };
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Waits (bounded) until `ready()` holds: for what the server does in its own time, instead of a fixed sleep. */
async function until(ready: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > end) throw new Error(`still not ${what} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A port nothing listens on (bound, then closed): a real ECONNREFUSED. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe("a slow refresh keeps the grant", () => {
  it.each(["aruba-central", "techpulse"] as const)(
    "%s: the server answers after the idempotent timeout, within the refresh timeout: one request, rotated, no login",
    async (provider) => {
      const setup = h.manager(provider, {}, RETRY);
      const first = await setup.getToken();
      const rt0 = (await setup.store.get(setup.key))?.refreshToken;
      await h.advance(7200);
      await h.emu.admin.resetCounters();
      // The answer comes 1.5 s after the request: past the idempotent timeout (300 ms) whatever the load.
      await h.emu.admin.fault({ provider, endpoint: "token", type: "delay", delayMs: 1500 });
      const m = h.manager(provider, {}, { store: setup.store, retry: SHORT });
      const t = await m.getToken();
      expect(t.source).toBe("refresh");
      expect(t.accessToken).not.toBe(first.accessToken);
      const c = await h.counters(provider);
      expect(c.tokenRequests).toBe(1);
      expect(c.refreshes).toBe(1);
      expect(c.refusals).toEqual({});
      // Past the usual timeout the wait is said, once, not turned into a resend.
      const waits = m.events.filter((e) => e.type === "waiting_answer");
      expect(waits).toHaveLength(1);
      expect(waits[0]?.message).toMatch(
        /no answer from http:\/\/127\.0\.0\.1:\d+ after 300ms; waiting up to 20s, as it is not sent twice$/,
      );
      const rec = await m.store.get(m.key);
      expect(rec?.refreshToken).not.toBe(rt0);
      expect(rec?.refreshPendingSince).toBeUndefined();
    },
  );

  it("an idempotent login still gives up at the short timeout (and retries)", async () => {
    // Every attempt answered only after 3 s, ten times the timeout: each one times out, whatever the load.
    await h.emu.admin.fault({ provider: "greenlake", endpoint: "token", type: "delay", delayMs: 3000, count: 3 });
    const m = h.manager("greenlake", {}, { retry: SHORT });
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("TIMEOUT");
    expect((await h.counters("greenlake")).tokenRequests).toBe(3);
    const retries = m.events.filter((e) => e.type === "retry");
    expect(retries).toHaveLength(2);
    expect(retries[0]?.message).toMatch(/timed out after 300ms; retrying in/);
    // With the faults used up, the same manager logs in.
    expect((await m.getToken()).source).toBe("login");
  });
});

describe("an answer lost after sending", () => {
  it("past the refresh timeout: ANSWER_LOST after ONE request, the refresh token kept, the marker kept; the next holder says for certain that the rotation was lost", async () => {
    const store = new FileTokenStore({ dir: await mkdtemp(join(tmpdir(), "hpauth-lost-")) });
    dirs.push(store.dir);
    const withBrowser = h.manager("techpulse", {}, { ...RETRY, store });
    await withBrowser.getToken();
    const before = await store.get(withBrowser.key);
    await h.advance(3600);
    await h.emu.admin.resetCounters();
    // The server rotates after 3 s; the client waits 800 ms for a request it must not repeat.
    await h.emu.admin.fault({ provider: "techpulse", endpoint: "token", type: "delay", delayMs: 3000 });
    const m = h.manager(
      "techpulse",
      {},
      { store, authorizer: undefined, retry: { ...RETRY.retry, timeoutMs: 300, nonIdempotentTimeoutMs: 800 } },
    );
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("ANSWER_LOST");
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(
      /^TechPulse token refresh: no answer from http:\/\/127\.0\.0\.1:\d+ within 800ms; the server may have rotated the refresh token, so it was not sent again$/,
    );
    expect(err.hint).toMatch(/tried once more/);
    expect((await h.counters("techpulse")).tokenRequests).toBe(1);
    const after = await store.get(m.key);
    expect(after?.refreshToken).toBe(before?.refreshToken);
    expect(after?.accessToken).toBe(before?.accessToken);
    expect(after?.refreshPendingSince).toBeTypeOf("number");
    expect(after?.lastError?.code).toBe("ANSWER_LOST");
    expect((await m.status()).warnings.join(" ")).toMatch(/got no answer/);

    // The server did rotate (its answer was only late). A fresh process finds the marker, tries the stored
    // refresh token once, is refused, and says what happened instead of "revoked or expired".
    await until(async () => (await h.counters("techpulse")).refreshes === 1, "rotated by the late refresh");
    const next = createTokenManager({ profile: h.profile("techpulse"), store, runtime: h.runtime, ...RETRY });
    const dead = await next.getToken().catch((e) => e);
    expect(dead.code).toBe("LOGIN_REQUIRED");
    expect(dead.message).toContain(
      `a refresh sent at ${new Date(after?.refreshPendingSince ?? 0).toISOString()} got no answer`,
    );
    expect(dead.message).toMatch(/rotation is lost/);
    const c = await h.counters("techpulse");
    expect(c.refreshes).toBe(1); // the late one
    expect(c.refusals).toEqual({ refresh_reused: 1 });
    expect((await store.get(m.key))?.refreshPendingSince).toBeUndefined();
  });

  it.each([
    [
      "dropped connection",
      { type: "drop" },
      /the connection to http:\/\/127\.0\.0\.1:\d+ was lost after the request was sent/,
    ],
    ["200 with malformed JSON", { type: "malformed" }, /answered HTTP 200 with a malformed body instead of JSON/],
    [
      "200 with a truncated body",
      { type: "truncated" },
      /answered HTTP 200 but the connection was cut inside the body/,
    ],
  ] as const)(
    "%s: ANSWER_LOST after one request; nothing rotated, so the next call refreshes with the same token",
    async (_n, fault, message) => {
      const m = h.manager("aruba-central", {}, RETRY);
      await m.getToken();
      const rt0 = (await m.store.get(m.key))?.refreshToken;
      await h.advance(7200);
      await h.emu.admin.resetCounters();
      await h.emu.admin.fault({ provider: "aruba-central", endpoint: "token", ...fault });
      const err = await m.getToken().catch((e) => e);
      expect(err.code).toBe("ANSWER_LOST");
      expect(err.message).toMatch(message);
      expect((await h.counters("aruba-central")).tokenRequests).toBe(1);
      expect((await m.store.get(m.key))?.refreshToken).toBe(rt0);
      // The faulted request had no effect at the server (the emulator faults before its handler): the retry works.
      const t = await m.getToken();
      expect(t.source).toBe("refresh");
      const c = await h.counters("aruba-central");
      expect(c).toMatchObject({ refreshes: 1, logins: 0, tokenRequests: 2, refusals: {} });
      expect((await m.store.get(m.key))?.refreshPendingSince).toBeUndefined();
    },
  );

  it("a definite failure (an error status) clears the marker and may be retried with the same token", async () => {
    const m = h.manager("aruba-central", {}, RETRY);
    await m.getToken();
    await h.advance(7200);
    await h.emu.admin.resetCounters();
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "token", type: "status", status: 502, count: 2 });
    const t = await m.getToken();
    expect(t.source).toBe("refresh");
    expect(await h.counters("aruba-central")).toMatchObject({ tokenRequests: 3, refreshes: 1, refusals: {} });
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "token", type: "status", status: 500, count: 3 });
    await h.advance(7200);
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("SERVER_ERROR");
    const rec = await m.store.get(m.key);
    expect(rec?.refreshPendingSince).toBeUndefined();
    expect(rec?.lastError?.code).toBe("SERVER_ERROR");
  });

  it("a connection refused before sending is a definite non-arrival: retried, and the refresh succeeds", async () => {
    const m0 = h.manager("aruba-central", {}, RETRY);
    await m0.getToken();
    await h.advance(7200);
    await h.emu.admin.resetCounters();
    const port = await closedPort();
    let calls = 0;
    const m = createTokenManager({
      profile: h.profile("aruba-central"),
      store: m0.store,
      ...RETRY,
      runtime: {
        ...h.runtime,
        // The first attempt goes to a port nobody listens on: refused before a byte is sent.
        fetch: (input, init) => {
          calls++;
          const url = new URL(String(input));
          if (calls === 1) url.port = String(port);
          return fetch(url, init);
        },
      },
    });
    const t = await m.getToken();
    expect(t.source).toBe("refresh");
    expect(calls).toBe(2);
    expect(await h.counters("aruba-central")).toMatchObject({ tokenRequests: 1, refreshes: 1, refusals: {} });
  });

  it("the marker is on disk while the refresh is in flight, and gone with its result", async () => {
    const store = new FileTokenStore({ dir: await mkdtemp(join(tmpdir(), "hpauth-marker-")) });
    dirs.push(store.dir);
    const m = h.manager("aruba-central", {}, { ...RETRY, store });
    await m.getToken();
    await h.advance(7200);
    await h.emu.admin.resetCounters();
    // Held 2 s at the server: looked at once the request has arrived, the refresh is surely still in flight.
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "token", type: "delay", delayMs: 2000 });
    const pending = m.getToken();
    await until(async () => (await h.counters("aruba-central")).tokenRequests === 1, "sent");
    // Another process's view: a separate store instance on the same directory.
    const other = new FileTokenStore({ dir: store.dir });
    const during = await other.get(m.key);
    expect(during?.refreshPendingSince).toBeTypeOf("number");
    await pending;
    const done = await other.get(m.key);
    expect(done?.refreshPendingSince).toBeUndefined();
    expect(done?.lastRefreshAt).toBeGreaterThanOrEqual(during?.refreshPendingSince ?? Infinity);
  });

  it("refreshMarker: false writes no marker", async () => {
    const m = h.manager("aruba-central", {}, { ...RETRY, refreshMarker: false });
    await m.getToken();
    await h.advance(7200);
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "token", type: "drop" });
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("ANSWER_LOST");
    expect((await m.store.get(m.key))?.refreshPendingSince).toBeUndefined();
  });

  it("a refused import writes no marker and leaves the stored grant as it was", async () => {
    const m = h.manager("aruba-central", {}, RETRY);
    await m.getToken();
    const before = await m.store.get(m.key);
    const err = await m.importTokens({ refreshToken: "not-a-real-refresh-token" }).catch((e) => e);
    expect(err.code).toBe("INVALID_GRANT");
    const after = await m.store.get(m.key);
    expect(after?.refreshToken).toBe(before?.refreshToken);
    expect(after?.accessToken).toBe(before?.accessToken);
    expect(after?.refreshPendingSince).toBeUndefined();
  });
});
