/**
 * The preconditions of the refresh path's writes once our lock was lost (SetOptions.ifCurrent), case by case: the
 * marker needs the stored record to be the one we read (access token AND refresh token), the result needs that too
 * — or a stored grant declared dead that is not newer than ours, and then only when ours has a refresh token (the
 * only live grant). A refused write serves another holder's newer token only if it is still good.
 */
import { describe, expect, it } from "vitest";
import type { TokenRecord } from "../../src/stores/types.js";
import { useHarness } from "./helpers.js";
import { HookStore } from "./hook-store.js";

const h = useHarness();

async function expiredAruba() {
  const store = new HookStore();
  const m = h.manager("aruba-central", {}, { store });
  await m.getToken();
  await h.advance(7200);
  await h.emu.admin.resetCounters();
  store.writes.length = 0;
  return { store, m, before: (await store.get(m.key)) as TokenRecord };
}

function newerToken(base: TokenRecord, r: Partial<TokenRecord> = {}): TokenRecord {
  const now = h.now();
  const { refreshPendingSince: _p, ...rest } = base;
  return {
    ...rest,
    accessToken: "another-holders-token",
    expiresAt: now + 3600_000,
    obtainedAt: now,
    updatedAt: now,
    ...r,
  };
}

describe("the marker's precondition", () => {
  it("another holder's newer access token with the same refresh token (a provider that does not rotate): served, nothing sent", async () => {
    const { store, m, before } = await expiredAruba();
    const theirs = newerToken(before);
    store.before.set(0, async () => {
      store.lockLost = true;
      await store.inner.set(m.key, theirs);
    });
    const t = await m.getToken();
    expect(t.accessToken).toBe("another-holders-token");
    expect((await h.counters("aruba-central")).tokenRequests).toBe(0);
    expect(await store.get(m.key)).toEqual(theirs);
  });
});

describe("the marker after a logout meanwhile", () => {
  it("the record is gone: the store's refusal is what the error says, nothing sent", async () => {
    const { store, m } = await expiredAruba();
    store.before.set(0, async () => {
      store.lockLost = true;
      await store.inner.delete(m.key);
    });
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("STORE_ERROR");
    expect(err.message).toBe(
      `Could not write to the hook store before refreshing (nothing was sent): the lock on "${m.key}" was lost and the record changed`,
    );
    expect((await h.counters("aruba-central")).tokenRequests).toBe(0);
  });
});

describe("the result's precondition", () => {
  it("another holder's newer access token beside the refresh token we started from: theirs is kept and served", async () => {
    const { store, m, before } = await expiredAruba();
    let theirs: TokenRecord | undefined;
    store.before.set(1, async () => {
      store.lockLost = true;
      theirs = newerToken(before);
      await store.inner.set(m.key, theirs);
    });
    const t = await m.getToken();
    expect(t.accessToken).toBe("another-holders-token");
    expect(await store.get(m.key)).toEqual(theirs);
  });

  it("the record was deleted meanwhile (a logout): a refreshed grant, the only live one, is saved", async () => {
    const { store, m } = await expiredAruba();
    store.before.set(1, async () => {
      store.lockLost = true;
      await store.inner.delete(m.key);
    });
    const t = await m.getToken();
    expect(t.source).toBe("refresh");
    expect((await store.get(m.key))?.accessToken).toBe(t.accessToken);
  });

  it("the record was deleted meanwhile: a login without a refresh token is not written back (STORE_ERROR)", async () => {
    const store = new HookStore();
    const m = h.manager("greenlake", {}, { store });
    const first = await m.getToken();
    await h.advance(7200);
    store.writes.length = 0;
    store.before.set(0, async () => {
      store.lockLost = true;
      await store.inner.delete(m.key);
    });
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("STORE_ERROR");
    expect(err.hint).toBe("Check the token store.");
    expect(await store.get(m.key)).toBeUndefined();
    expect(first.source).toBe("login");
  });

  it("another holder's newer token that is itself no longer good is not served: STORE_ERROR", async () => {
    const { store, m, before } = await expiredAruba();
    store.before.set(1, async () => {
      store.lockLost = true;
      await store.inner.set(m.key, newerToken(before, { refreshToken: "theirs", expiresAt: h.now() - 1 }));
    });
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("STORE_ERROR");
    expect(m.events.some((e) => e.type === "superseded")).toBe(false);
    expect((await store.get(m.key))?.refreshToken).toBe("theirs");
  });
});
