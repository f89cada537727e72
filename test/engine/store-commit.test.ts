/**
 * What the refresh path writes to the store, and what it does when the store says no (issue 7.1, issue 13): the
 * "refresh in flight" marker goes to the store before the request (a store that refuses it fails the refresh
 * unsent), the saved result carries no marker, and a write refused because another holder moved on (our lock was
 * lost: a pause, a stall) serves that holder's newer token instead of overwriting it. The store here is the public
 * TokenStore interface around a MemoryTokenStore, with the lost-lock rule every store documents (SetOptions): a
 * write under a lost lock goes ahead only when its `ifCurrent` precondition holds for the stored record.
 */
import { describe, expect, it } from "vitest";
import { rfc3339 } from "../../src/engine/dates.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import type { LockOptions, SetOptions, TokenRecord, TokenStore } from "../../src/stores/types.js";
import { useHarness } from "./helpers.js";

const h = useHarness();

class HookStore implements TokenStore {
  readonly kind = "hook";
  readonly inner = new MemoryTokenStore();
  /** Set once another process took our lock over: writes then need their ifCurrent precondition to hold. */
  lockLost = false;
  /** Every write asked for (accepted or not), in order. */
  readonly writes: TokenRecord[] = [];
  /** Runs before the n-th write (0-based) is decided: another holder's action, or a failure to inject. */
  before = new Map<number, () => Promise<void> | void>();
  get(key: string): Promise<TokenRecord | undefined> {
    return this.inner.get(key);
  }
  async set(key: string, record: TokenRecord, options?: SetOptions): Promise<void> {
    const n = this.writes.length;
    this.writes.push(structuredClone(record));
    await this.before.get(n)?.();
    if (this.lockLost && !options?.ifCurrent?.(await this.inner.get(key))) {
      throw new Error(`the lock on "${key}" was lost and the record changed`);
    }
    return this.inner.set(key, record);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    return this.inner.withLock(key, fn, options);
  }
}

/** An Aruba grant in a HookStore whose access token has expired (its refresh token is good). */
async function expiredAruba() {
  const store = new HookStore();
  const m = h.manager("aruba-central", {}, { store });
  await m.getToken();
  await h.advance(7200);
  await h.emu.admin.resetCounters();
  store.writes.length = 0;
  const before = (await store.get(m.key)) as TokenRecord;
  return { store, m, before };
}

describe("the refresh-in-flight marker", () => {
  it("is written (with the grant unchanged) before the request; the saved result has none and rotates", async () => {
    const { store, m, before } = await expiredAruba();
    let requestsAtMarker = -1;
    store.before.set(0, async () => {
      requestsAtMarker = (await h.counters("aruba-central")).tokenRequests;
    });
    const t = await m.getToken();
    expect(t.source).toBe("refresh");
    expect(requestsAtMarker).toBe(0);
    expect(store.writes).toHaveLength(2);
    const [marker, saved] = store.writes;
    expect(marker?.refreshPendingSince).toBeTypeOf("number");
    expect(marker?.refreshPendingSince).toBe(marker?.updatedAt);
    expect(marker?.refreshToken).toBe(before.refreshToken);
    expect(marker?.accessToken).toBe(before.accessToken);
    expect(saved?.refreshPendingSince).toBeUndefined();
    expect(saved?.accessToken).toBe(t.accessToken);
    expect(saved?.refreshToken).not.toBe(before.refreshToken);
    expect(saved?.lastRefreshAt).toBeGreaterThanOrEqual(marker?.refreshPendingSince ?? Number.POSITIVE_INFINITY);
    const refresh = m.events.filter((e) => e.type === "refresh");
    expect(refresh).toHaveLength(1);
    expect(refresh[0]?.message).toMatch(/^token refreshed in \d+(ms|\.\d+s|s) \(refresh token rotated\)$/);
    expect((await h.counters("aruba-central")).refreshes).toBe(1);
  });

  it("refused by the store: STORE_ERROR, nothing sent, the grant as it was", async () => {
    const { store, m, before } = await expiredAruba();
    store.before.set(0, () => {
      throw new Error("no space left on device");
    });
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toBe(
      "Could not write to the hook store before refreshing (nothing was sent): no space left on device",
    );
    expect(err.hint).toBe("Check the token store.");
    expect(err.profile).toBe(m.profile.name);
    expect((await h.counters("aruba-central")).tokenRequests).toBe(0);
    const after = await store.get(m.key);
    expect(after?.refreshToken).toBe(before.refreshToken);
    expect(after?.refreshPendingSince).toBeUndefined();
  });

  it("refreshMarker: false sends the refresh with one write, the result", async () => {
    const store = new HookStore();
    const m = h.manager("aruba-central", {}, { store, refreshMarker: false });
    await m.getToken();
    await h.advance(7200);
    store.writes.length = 0;
    expect((await m.getToken()).source).toBe("refresh");
    expect(store.writes).toHaveLength(1);
    expect(store.writes[0]?.refreshPendingSince).toBeUndefined();
  });
});

describe("a lost lock", () => {
  it("nobody wrote meanwhile: the marker and the result go ahead (their precondition holds)", async () => {
    const { store, m, before } = await expiredAruba();
    store.lockLost = true;
    const t = await m.getToken();
    expect(t.source).toBe("refresh");
    const rec = await store.get(m.key);
    expect(rec?.accessToken).toBe(t.accessToken);
    expect(rec?.refreshToken).not.toBe(before.refreshToken);
    expect(rec?.refreshPendingSince).toBeUndefined();
    expect(m.events.some((e) => e.type === "superseded")).toBe(false);
  });

  it("another holder saved a newer token before our marker: that one is served, nothing is sent", async () => {
    const { store, m, before } = await expiredAruba();
    // The other holder refreshed the same grant (its own manager, a copy of the record) and saved the result.
    const other = h.manager("aruba-central", {}, { store: new MemoryTokenStore() });
    await other.store.set(other.key, before);
    const theirs = await other.getToken();
    expect(theirs.source).toBe("refresh");
    const saved = (await other.store.get(other.key)) as TokenRecord;
    store.before.set(0, async () => {
      store.lockLost = true;
      await store.inner.set(m.key, saved);
    });
    const t = await m.getToken();
    expect(t.accessToken).toBe(theirs.accessToken);
    expect(t.source).toBe("cache");
    const superseded = m.events.filter((e) => e.type === "superseded");
    expect(superseded).toHaveLength(1);
    expect(superseded[0]?.message).toBe(
      "another process saved a newer token while this one's lock had expired; serving that one",
    );
    // Only the other holder's refresh reached the server, and its record is the one stored.
    expect((await h.counters("aruba-central")).refreshes).toBe(1);
    expect(await store.get(m.key)).toEqual(saved);
  });

  it("another holder saved a newer token while our refresh was in flight: that one is served and kept", async () => {
    const { store, m } = await expiredAruba();
    const now = h.now();
    let theirs: TokenRecord | undefined;
    store.before.set(1, async () => {
      store.lockLost = true;
      const cur = (await store.inner.get(m.key)) as TokenRecord;
      theirs = {
        ...cur,
        accessToken: "a-token-another-holder-saved",
        refreshToken: "a-refresh-token-another-holder-saved",
        expiresAt: now + 3600_000,
        obtainedAt: now,
        updatedAt: now,
      };
      delete theirs.refreshPendingSince;
      await store.inner.set(m.key, theirs);
    });
    const t = await m.getToken();
    expect(t.accessToken).toBe("a-token-another-holder-saved");
    expect(m.events.filter((e) => e.type === "superseded")).toHaveLength(1);
    expect(await store.get(m.key)).toEqual(theirs);
  });

  it("the successor declared the grant dead meanwhile (our spent refresh token): ours, the only live grant, is saved", async () => {
    const { store, m } = await expiredAruba();
    store.before.set(1, async () => {
      store.lockLost = true;
      // What a successor writes when the refresh token (already used by us) is refused: the grant without it.
      const {
        refreshToken: _r,
        refreshTokenIssuedAt: _i,
        refreshPendingSince: _p,
        ...rest
      } = (await store.inner.get(m.key)) as TokenRecord;
      await store.inner.set(m.key, { ...rest, updatedAt: h.now() });
    });
    const t = await m.getToken();
    expect(t.source).toBe("refresh");
    const rec = await store.get(m.key);
    expect(rec?.accessToken).toBe(t.accessToken);
    expect(rec?.refreshToken).toBeTypeOf("string");
    expect(rec?.refreshPendingSince).toBeUndefined();
  });

  it("a grant declared dead and replaced by a newer login meanwhile is not overwritten: STORE_ERROR that says the rotation is lost", async () => {
    const { store, m } = await expiredAruba();
    let theirs: TokenRecord | undefined;
    store.before.set(1, async () => {
      store.lockLost = true;
      const { refreshToken: _r, refreshTokenIssuedAt: _i, ...rest } = (await store.inner.get(m.key)) as TokenRecord;
      // No refresh token and no access token any more, but newer than what we started from.
      const { accessToken: _a, expiresAt: _e, ...left } = rest;
      theirs = { ...left, obtainedAt: h.now() + 1000, updatedAt: h.now() };
      await store.inner.set(m.key, theirs);
    });
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toBe(
      `Could not save the new token to the hook store: the lock on "${m.key}" was lost and the record changed`,
    );
    expect(err.hint).toMatch(
      /^Not saved: the rotated refresh token and the access token valid until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\. The stored refresh token was spent by this refresh, so the next run needs a new login\.$/,
    );
    const rec = await store.get(m.key);
    expect(rec?.accessToken).toBeUndefined();
    expect(rec?.refreshToken).toBeUndefined();
  });
});

describe("a store that cannot save the result", () => {
  it("after a rotating refresh: the hint names the until-time of the lost access token and says a login is next", async () => {
    const { store, m } = await expiredAruba();
    store.before.set(1, () => {
      throw new Error("read-only file system");
    });
    const started = h.now();
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toBe("Could not save the new token to the hook store: read-only file system");
    const until = /valid until (\S+)\./.exec(err.hint)?.[1] ?? "";
    const ms = Date.parse(until);
    expect(Math.abs(ms - (started + 7200_000))).toBeLessThan(10_000);
    expect(until).toBe(rfc3339(ms));
    expect((await h.counters("aruba-central")).refreshes).toBe(1);
  });

  it("after a login without a refresh token: only 'Check the token store.'", async () => {
    const store = new HookStore();
    store.before.set(0, () => {
      throw new Error("read-only file system");
    });
    const m = h.manager("greenlake", {}, { store });
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toBe("Could not save the new token to the hook store: read-only file system");
    expect(err.hint).toBe("Check the token store.");
    // The failure is recorded for status where the store takes it.
    expect((await m.status()).lastError?.code).toBe("STORE_ERROR");
  });
});

describe("what the next holder learns from a marker", () => {
  it("a marker and a refused refresh token: the grant_dead event says the lost refresh had rotated it", async () => {
    const { store, m, before } = await expiredAruba();
    const sent = h.now() - 60_000;
    // A previous holder's refresh of a since-rotated refresh token got no answer; the server no longer knows it.
    await store.inner.set(m.key, { ...before, refreshToken: "a-spent-refresh-token", refreshPendingSince: sent });
    const t = await m.getToken();
    expect(t.source).toBe("login");
    expect(m.events.filter((e) => e.type === "grant_dead").map((e) => e.message)).toEqual([
      `the refresh token was refused: the refresh sent at ${new Date(sent).toISOString()}, whose answer was lost, had rotated it; a new login is needed`,
    ]);
    const rec = await store.get(m.key);
    expect(rec?.refreshPendingSince).toBeUndefined();
    expect(rec?.refreshToken).not.toBe("a-spent-refresh-token");
  });
});

describe("a refresh answer the server sent but that cannot be used", () => {
  it("a server that echoes the request: the refresh token read from the store is masked in the error, the events and the record", async () => {
    const { store, m, before } = await expiredAruba();
    // Another process: it never saw this refresh token before reading it from the store.
    const next = h.manager("aruba-central", {}, { store, retry: { attempts: 1 } });
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "token", type: "echo", status: 500 });
    const err = await next.getToken().catch((e) => e);
    expect(err.code).toBeTypeOf("string");
    const refresh = before.refreshToken as string;
    expect(JSON.stringify(next.events)).not.toContain(refresh);
    expect(`${err.message} ${err.hint ?? ""}`).not.toContain(refresh);
    const rec = await store.get(m.key);
    expect(rec?.lastError?.message).toBeTypeOf("string");
    expect(rec?.lastError?.message).not.toContain(refresh);
    expect(rec?.refreshToken).toBe(refresh);
  });
});
