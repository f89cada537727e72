/** Each provider end to end against the emulator over real HTTP: grants, refresh + rotation, re-login, margins, 401s. */
import { describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { createTokenManager } from "../../src/engine/manager.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { type EmuProvider, useHarness } from "./helpers.js";

const h = useHarness({ techpulseExpiresInMillis: true });

const API: Record<string, { path: string; method: string }> = {
  techpulse: { path: "/analytics/v1/reports/hwinv/deviceType/type/graph", method: "POST" },
  wxp: { path: "/api/v1/collaboration/rooms", method: "GET" },
  greenlake: { path: "/api/v1/storage-systems", method: "GET" },
  "aruba-central": { path: "/monitoring/v2/aps", method: "GET" },
  "hpe-identity": { path: "/support/entitlement/v1/warrantyCheck/SGH123/P123?cc=US&hsl=true", method: "GET" },
};

describe("each provider end to end", () => {
  it.each(Object.keys(API) as Array<keyof typeof API>)("%s: grant, cached token, API call", async (provider) => {
    const m = h.manager(provider as never);
    const t = await m.getToken();
    expect(t.tokenType).toBe("Bearer");
    expect(t.source).toBe("login");
    expect((await m.getToken()).source).toBe("cache");
    const res = await m.fetch(API[provider]!.path, {
      method: API[provider]!.method,
      body: API[provider]!.method === "POST" ? "{}" : undefined,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(200);
    const c = await h.counters(provider as never);
    expect(c.tokensIssued).toBe(1);
    expect(c.apiCalls).toBe(1);
    // The secret never lands in the store.
    const raw = JSON.stringify(await m.store.get(m.key));
    const secret = h.emu.providers[provider as EmuProvider].clientSecret;
    if (secret) expect(raw).not.toContain(secret);
    const password = h.emu.providers[provider as EmuProvider].password;
    if (password) expect(raw).not.toContain(password);
  });

  it("techpulse: expires_in 1799999 is capped at the documented 1800 s", async () => {
    const m = h.manager("techpulse");
    const t = await m.getToken();
    const life = (t.expiresAt.getTime() - h.now()) / 1000;
    expect(life).toBeLessThanOrEqual(1800);
    expect(life).toBeGreaterThan(1790);
  });

  it("techpulse: refresh rotates; the old refresh token is never presented again", async () => {
    const m = h.manager("techpulse");
    await m.getToken();
    const first = await m.store.get(m.key);
    await h.advance(1800 - 30); // inside the margin
    const t2 = await m.getToken();
    expect(t2.source).toBe("refresh");
    const second = await m.store.get(m.key);
    expect(second?.refreshToken).toBeDefined();
    expect(second?.refreshToken).not.toBe(first?.refreshToken);
    await h.advance(1800);
    const t3 = await m.getToken();
    expect(t3.source).toBe("refresh");
    const c = await h.counters("techpulse");
    expect(c.refreshes).toBe(2);
    expect(c.logins).toBe(1);
    // A replayed (rotated) refresh token would show up as a refusal.
    expect(Object.keys(c.refusals).filter((r) => r.startsWith("refresh"))).toEqual([]);
  });

  it("techpulse: a revoked grant without an authorizer is LOGIN_REQUIRED with a hint", async () => {
    const m = h.manager("techpulse");
    const t = await m.getToken();
    await h.emu.admin.revoke("techpulse", t.accessToken);
    const m2 = createTokenManager({ profile: h.profile("techpulse"), store: m.store, runtime: h.runtime });
    const err = await m2.getToken({ forceRefresh: true }).catch((e) => e);
    expect(err).toBeInstanceOf(HpauthError);
    expect(err.code).toBe("LOGIN_REQUIRED");
    expect(err.hint).toContain("hpauth login --profile techpulse-test");
  });

  it("wxp: no refresh; proactive re-login with stored credentials before the 300 s expiry", async () => {
    const m = h.manager("wxp", {}, { refreshMarginSeconds: 30 });
    const t1 = await m.getToken();
    expect((await m.store.get(m.key))?.refreshToken).toBeUndefined();
    await h.advance(200);
    expect((await m.getToken()).source).toBe("cache");
    await h.advance(80); // 20 s left < 30 s margin (+ jitter): re-login while the old token still works
    const t2 = await m.getToken();
    expect(t2.source).toBe("login");
    expect(t2.accessToken).not.toBe(t1.accessToken);
    const c = await h.counters("wxp");
    expect(c.logins).toBe(2);
    expect(c.refreshes).toBe(0);
  });

  it("greenlake: client_secret_basic works too; new grant near expiry", async () => {
    const m = h.manager("greenlake", { clientAuth: "client_secret_basic" });
    const t1 = await m.getToken();
    await h.advance(7200 - 30);
    const t2 = await m.getToken();
    expect(t2.source).toBe("login");
    expect(t2.accessToken).not.toBe(t1.accessToken);
    expect((await h.counters("greenlake")).tokensIssued).toBe(2);
  });

  it("hpe-identity: keeps non-secret extras; a wrong secret is INVALID_CLIENT and the message is redacted", async () => {
    const m = h.manager("hpe-identity");
    await m.getToken();
    const rec = await m.store.get(m.key);
    expect(rec?.meta?.cc_id).toBeDefined();
    const bad = h.manager("hpe-identity", { clientSecret: "wrong-secret-value" });
    const err = await bad.getToken().catch((e) => e);
    expect(err.code).toBe("INVALID_CLIENT");
    expect(err.message).not.toContain("wrong-secret-value");
    expect((await h.counters("hpe-identity")).tokenRequests).toBe(2); // never retried
  });

  it("expiry margin follows the emulator clock: valid → expiring → expired in status()", async () => {
    const m = h.manager(
      "hpe-identity",
      {},
      { refreshMarginSeconds: 60, runtime: { ...h.runtime, randomBytes: (n) => new Uint8Array(n) } },
    );
    await m.getToken();
    expect((await m.status()).state).toBe("valid");
    await h.advance(3599 - 59);
    expect((await m.status()).state).toBe("expiring");
    await h.advance(120);
    const s = await m.status();
    expect(s.state).toBe("expired");
    expect((await h.counters("hpe-identity")).tokenRequests).toBe(1); // status is offline
  });

  it("minTtlSeconds forces a new token when the cached one is too short-lived", async () => {
    const m = h.manager("hpe-identity");
    const t1 = await m.getToken();
    expect((await m.getToken({ minTtlSeconds: 600 })).accessToken).toBe(t1.accessToken);
    await h.advance(3000);
    const t2 = await m.getToken({ minTtlSeconds: 900 });
    expect(t2.accessToken).not.toBe(t1.accessToken);
  });
});

describe("401 handling", () => {
  it("a 401 on a call: one refresh, one retry, success", async () => {
    const m = h.manager("techpulse");
    const t1 = await m.getToken();
    await h.emu.admin.fault({ provider: "techpulse", endpoint: "api", type: "status", status: 401, count: 1 });
    const res = await m.fetch(API.techpulse!.path, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(200);
    expect((await m.getToken()).accessToken).not.toBe(t1.accessToken);
    const c = await h.counters("techpulse");
    expect(c.refreshes).toBe(1);
    expect(c.apiCalls).toBe(2);
  });

  it("aruba: a revoked grant on a call: refresh refused, and steps 1-3 blocked by the login budget", async () => {
    const m = h.manager("aruba-central");
    const t = await m.getToken();
    await h.emu.admin.revoke("aruba-central", t.accessToken);
    // Revoke kills the whole family: the refresh is refused, and the login budget blocks steps 1-3.
    const err = await m.fetch("/monitoring/v2/aps").catch((e) => e);
    expect(err.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    const c = await h.counters("aruba-central");
    expect(c.apiCalls).toBe(1);
    expect(c.refreshes).toBe(0);
    expect(c.logins).toBe(1);
  });

  it("an API that keeps answering 401: exactly one refresh and one retry, never a loop", async () => {
    const m = h.manager("techpulse");
    await m.getToken();
    await h.emu.admin.fault({ provider: "techpulse", endpoint: "api", type: "status", status: 401, count: 10 });
    const before = await h.counters("techpulse");
    const res = await m.fetch(API.techpulse!.path, { method: "POST", body: "{}" });
    expect(res.status).toBe(401);
    const after = await h.counters("techpulse");
    expect(after.refreshes - before.refreshes).toBe(1);
    expect(after.tokenRequests - before.tokenRequests).toBe(1);
    expect(m.events.filter((e) => e.type === "unauthorized")).toHaveLength(1);
  });

  it("refuses to send the token to another origin", async () => {
    const m = h.manager("greenlake");
    await expect(m.fetch("https://evil.example/steal")).rejects.toMatchObject({ code: "USAGE" });
  });
});

describe("import, invalidate, logout", () => {
  it("aruba: an imported UI token pair is validated by refresh and kept alive by refresh alone", async () => {
    // Create a pair "in the UI" (another manager), then import only its refresh token elsewhere.
    const ui = h.manager("aruba-central");
    await ui.getToken();
    const pair = await ui.store.get(ui.key);
    const sso = createTokenManager({
      profile: h.profile("aruba-central", { username: undefined, password: undefined, name: "sso" }),
      store: new MemoryTokenStore(),
      runtime: h.runtime,
    });
    const t = await sso.importTokens({ refreshToken: pair?.refreshToken ?? "" });
    expect(t.source).toBe("refresh");
    await h.advance(7200);
    expect((await sso.getToken()).source).toBe("refresh");
    const err = await sso.importTokens({ refreshToken: "not-a-real-refresh-token" }).catch((e) => e);
    expect(err.code).toBe("INVALID_GRANT");
    expect((await h.counters("aruba-central")).logins).toBe(1);
  });

  it("invalidate marks the token bad; logout deletes the record", async () => {
    const m = h.manager("hpe-identity");
    const t = await m.getToken();
    await m.invalidate(t.accessToken);
    const t2 = await m.getToken();
    expect(t2.accessToken).not.toBe(t.accessToken);
    await m.logout();
    expect(await m.store.get(m.key)).toBeUndefined();
    expect((await m.status()).state).toBe("none");
  });
});
