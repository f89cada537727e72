/**
 * getToken's decision, seen from outside: serve the stored token, refresh it, or (after a transient failure) serve
 * it anyway — at its edges (minTtlSeconds, the refresh margin, forceRefresh), and the in-process join's promise that
 * a caller who reports a token as refused never gets that same token back. The manager's clock is pinned where an
 * edge is the point; the emulator keeps its own.
 */
import { describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import { useHarness } from "./helpers.js";

const h = useHarness();
const FAST = { retry: { attempts: 3, timeoutMs: 2000, baseDelayMs: 1 } };
/** No jitter: the margin is exactly refreshMarginSeconds. */
const NO_JITTER = { randomBytes: (n: number) => new Uint8Array(n) };

/** A manager whose clock only moves when told. */
function pinned(provider: "aruba-central" | "techpulse", opts: Record<string, unknown> = {}) {
  let now = h.now();
  const m = h.manager(provider, {}, { ...FAST, ...opts, runtime: { ...h.runtime, ...NO_JITTER, now: () => now } });
  return {
    m,
    at: (ms: number) => {
      now = ms;
    },
    get now() {
      return now;
    },
  };
}

describe("minTtlSeconds", () => {
  it("serves the stored token only while more than minTtlSeconds is left (seconds, fractions, negatives)", async () => {
    const c = pinned("aruba-central");
    const t0 = await c.m.getToken();
    expect(t0.expiresAt.getTime() - c.now).toBe(7200_000);
    expect((await c.m.getToken({ minTtlSeconds: 7199 })).accessToken).toBe(t0.accessToken);
    expect((await c.m.getToken({ minTtlSeconds: 7199.5 })).accessToken).toBe(t0.accessToken);
    expect((await c.m.getToken({ minTtlSeconds: -3600 })).source).toBe("cache");
    expect((await h.counters("aruba-central")).refreshes).toBe(0);
    // Exactly as long as is left is not enough.
    const t1 = await c.m.getToken({ minTtlSeconds: 7200 });
    expect(t1.source).toBe("refresh");
    expect(t1.accessToken).not.toBe(t0.accessToken);
    expect((await h.counters("aruba-central")).refreshes).toBe(1);
  });

  it("the margin: a token with exactly the margin left is refreshed, one with a millisecond more is served", async () => {
    const c = pinned("aruba-central", { refreshMarginSeconds: 120 });
    const t0 = await c.m.getToken();
    const exp = t0.expiresAt.getTime();
    c.at(exp - 120_001);
    expect((await c.m.getToken()).source).toBe("cache");
    expect((await c.m.status()).state).toBe("valid");
    c.at(exp - 120_000);
    expect((await c.m.status()).state).toBe("expiring");
    expect((await c.m.getToken()).source).toBe("refresh");
  });
});

describe("events of the cached path", () => {
  it("a cache hit says so, with the token's expiry", async () => {
    const m = h.manager("aruba-central");
    const t = await m.getToken();
    await m.getToken();
    const hits = m.events.filter((e) => e.type === "cache");
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({
      message: "token served from the store",
      expiresAt: t.expiresAt.toISOString(),
      profile: m.profile.name,
      provider: "aruba-central",
    });
  });
});

describe("forceRefresh and renewRejected", () => {
  it("forceRefresh refreshes a token that still has hours left", async () => {
    const m = h.manager("aruba-central");
    const t0 = await m.getToken();
    const t1 = await m.getToken({ forceRefresh: true });
    expect(t1.source).toBe("refresh");
    expect(t1.accessToken).not.toBe(t0.accessToken);
    expect((await h.counters("aruba-central")).refreshes).toBe(1);
  });

  it("a refused token already replaced in the store (another process refreshed): the new one, nothing sent", async () => {
    const m = h.manager("aruba-central");
    const t0 = await m.getToken();
    const other = createTokenManager({ profile: h.profile("aruba-central"), store: m.store, runtime: h.runtime });
    const t1 = await other.renewRejected(t0.accessToken);
    expect(t1.source).toBe("refresh");
    await h.emu.admin.resetCounters();
    const got = await m.renewRejected(t0.accessToken);
    expect(got.accessToken).toBe(t1.accessToken);
    expect(got.source).toBe("cache");
    expect(m.events.find((e) => e.type === "cache")?.message).toBe(
      "token refreshed meanwhile by another caller; served from the store",
    );
    expect((await h.counters("aruba-central")).tokenRequests).toBe(0);
  });

  it("a caller that joins a flight and gets back the very token it reported refused goes again", async () => {
    const m = h.manager("aruba-central");
    const t0 = await m.getToken();
    const other = createTokenManager({ profile: h.profile("aruba-central"), store: m.store, runtime: h.runtime });
    const t1 = await other.renewRejected(t0.accessToken);
    // Both at once on one manager: the first flight serves t1 (t0 was replaced); the second caller refused t1.
    const [a, b] = await Promise.all([m.renewRejected(t0.accessToken), m.renewRejected(t1.accessToken)]);
    expect(a.accessToken).toBe(t1.accessToken);
    expect(b.accessToken).not.toBe(t1.accessToken);
    expect(b.accessToken).not.toBe(t0.accessToken);
    expect(b.source).toBe("refresh");
    expect((await h.counters("aruba-central")).refreshes).toBe(2);
  });

  it("a plain getToken joining a forced flight takes its token", async () => {
    const m = h.manager("aruba-central");
    const t0 = await m.getToken();
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "token", type: "delay", delayMs: 200 });
    const [a, b] = await Promise.all([m.renewRejected(t0.accessToken), m.getToken({ minTtlSeconds: 7200 })]);
    expect(b.accessToken).toBe(a.accessToken);
    expect((await h.counters("aruba-central")).refreshes).toBe(1);
  });
});

describe("a transient failure of a proactive refresh", () => {
  /** techpulse token with exactly 40 s left (inside the 60 s margin), and the refresh endpoint failing 3 times. */
  async function inMargin() {
    const c = pinned("techpulse");
    const t0 = await c.m.getToken();
    c.at(t0.expiresAt.getTime() - 40_000);
    await h.emu.admin.fault({ provider: "techpulse", endpoint: "token", type: "status", status: 503, count: 3 });
    return { ...c, t0 };
  }

  it("serves the current token and says how long it has left", async () => {
    const { m, t0 } = await inMargin();
    const t = await m.getToken({ minTtlSeconds: 39 });
    expect(t.accessToken).toBe(t0.accessToken);
    expect(t.source).toBe("cache");
    const deferred = m.events.filter((e) => e.type === "refresh_deferred");
    expect(deferred.map((e) => e.message)).toEqual([
      "refresh failed (SERVER_ERROR); serving the current token, 40s left",
    ]);
    // The failure is on record, and the marker is gone (the outcome is known: an error status).
    const rec = await m.store.get(m.key);
    expect(rec?.lastError?.code).toBe("SERVER_ERROR");
    expect(rec?.refreshPendingSince).toBeUndefined();
  });

  it("not to a caller who needs at least as long as is left", async () => {
    const { m } = await inMargin();
    const err = await m.getToken({ minTtlSeconds: 40 }).catch((e) => e);
    expect(err.code).toBe("SERVER_ERROR");
    expect(m.events.some((e) => e.type === "refresh_deferred")).toBe(false);
  });

  it("not to a forced refresh (the API refused that token)", async () => {
    const { m } = await inMargin();
    const err = await m.getToken({ forceRefresh: true }).catch((e) => e);
    expect(err.code).toBe("SERVER_ERROR");
    expect(m.events.some((e) => e.type === "refresh_deferred")).toBe(false);
  });

  it("not after a refusal that is not transient (a wrong client secret)", async () => {
    const c = pinned("techpulse");
    const t0 = await c.m.getToken();
    c.at(t0.expiresAt.getTime() - 40_000);
    const bad = createTokenManager({
      profile: h.profile("techpulse", { clientSecret: "not-the-secret" }),
      store: c.m.store,
      runtime: { ...h.runtime, now: () => c.now },
      ...FAST,
    });
    const err = await bad.getToken().catch((e) => e);
    expect(err.category).toBe("auth");
    expect(err.code).not.toBe("INVALID_GRANT");
    // The grant itself was not declared dead: the good profile still refreshes with it.
    expect((await c.m.store.get(c.m.key))?.refreshToken).toBeTypeOf("string");
    expect((await c.m.getToken()).source).toBe("refresh");
  });
});
