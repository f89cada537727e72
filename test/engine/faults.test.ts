/** Transient failures are retried (bounded, backoff recorded), others are not; counted with the emulator's counters. */
import { describe, expect, it } from "vitest";
import { useHarness } from "./helpers.js";

const h = useHarness();

const FAST = { retry: { attempts: 3, timeoutMs: 400, baseDelayMs: 100 } };

describe("transient faults at the token endpoint", () => {
  it.each([
    ["500", { type: "status", status: 500 }],
    ["503", { type: "status", status: 503 }],
    ["429 + short Retry-After", { type: "status", status: 429, retryAfter: 2 }],
    ["malformed JSON", { type: "malformed" }],
    ["truncated JSON", { type: "truncated" }],
    ["HTML error page", { type: "html" }],
    ["dropped connection", { type: "drop" }],
    ["delay beyond the timeout", { type: "delay", delayMs: 1500 }],
  ] as const)("%s: retried, then succeeds", async (_name, fault) => {
    await h.emu.admin.fault({ provider: "greenlake", endpoint: "token", count: 2, ...fault });
    const m = h.manager("greenlake", {}, FAST);
    const t = await m.getToken();
    expect(t.source).toBe("login");
    const retries = m.events.filter((e) => e.type === "retry");
    expect(retries).toHaveLength(2);
    expect(h.sleeps).toHaveLength(2);
    if (fault.type === "status" && fault.status === 429) expect(h.sleeps).toEqual([2000, 2000]);
    else {
      // Exponential with jitter: 50-100 ms, then 100-200 ms.
      expect(h.sleeps[0]).toBeGreaterThanOrEqual(50);
      expect(h.sleeps[0]).toBeLessThanOrEqual(100);
      expect(h.sleeps[1]).toBeGreaterThanOrEqual(100);
      expect(h.sleeps[1]).toBeLessThanOrEqual(200);
    }
    expect((await h.counters("greenlake")).tokensIssued).toBeGreaterThanOrEqual(1);
  });

  it("a delay inside the timeout is just slow, not a failure", async () => {
    await h.emu.admin.fault({ provider: "hpe-identity", endpoint: "token", type: "delay", delayMs: 100 });
    const m = h.manager("hpe-identity", {}, FAST);
    await m.getToken();
    expect(m.events.filter((e) => e.type === "retry")).toHaveLength(0);
    expect((await h.counters("hpe-identity")).tokenRequests).toBe(1);
  });

  it("bounded: three attempts, then SERVER_ERROR (exit category network), with counters to prove it", async () => {
    await h.emu.admin.fault({ provider: "wxp", endpoint: "token", type: "status", status: 503, count: 10 });
    const m = h.manager("wxp", {}, FAST);
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("SERVER_ERROR");
    expect(err.exitCode).toBe(5);
    expect((await h.counters("wxp")).tokenRequests).toBe(3);
    expect((await m.status()).lastError?.code).toBe("SERVER_ERROR");
  });

  it("a 429 whose Retry-After is beyond the budget: RATE_LIMITED with retryAt, no retry", async () => {
    await h.emu.admin.fault({
      provider: "hpe-identity",
      endpoint: "token",
      type: "status",
      status: 429,
      retryAfter: 600,
    });
    const m = h.manager("hpe-identity", {}, FAST);
    const err = await m.getToken().catch((e) => e);
    expect(err.code).toBe("RATE_LIMITED");
    expect(err.exitCode).toBe(4);
    expect(Math.abs(err.retryAt.getTime() - (h.now() + 600_000))).toBeLessThan(5000);
    expect((await h.counters("hpe-identity")).tokenRequests).toBe(1);
  });

  it("credential errors are never retried", async () => {
    const m = h.manager("greenlake", { clientSecret: "definitely-wrong" }, FAST);
    const err = await m.getToken().catch((e) => e);
    expect(err.category).toBe("auth");
    expect((await h.counters("greenlake")).tokenRequests).toBe(1);
  });

  it("a transient failure during a proactive refresh serves the still-valid token", async () => {
    const m = h.manager("techpulse", {}, FAST);
    const t1 = await m.getToken();
    await h.advance(1800 - 40); // inside the 60 s margin, 40 s left
    await h.emu.admin.fault({ provider: "techpulse", endpoint: "token", type: "status", status: 503, count: 3 });
    const t2 = await m.getToken();
    expect(t2.accessToken).toBe(t1.accessToken);
    expect(m.events.some((e) => e.type === "refresh_deferred")).toBe(true);
    const t3 = await m.getToken(); // fault spent: the refresh goes through now
    expect(t3.source).toBe("refresh");
  });

  it("aruba: faults in steps 1 and 2 are retried without spending a second login", async () => {
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "login", type: "status", status: 502 });
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "code", type: "html" });
    const m = h.manager("aruba-central", {}, FAST);
    const t = await m.getToken();
    expect(t.source).toBe("login");
    const c = await h.counters("aruba-central");
    expect(c.logins).toBe(1);
    expect(c.tokensIssued).toBe(1);
  });

  it("error messages and events carry no secret even when the server echoes the token", async () => {
    const m = h.manager("hpe-identity", {}, FAST);
    const t = await m.getToken();
    await h.emu.admin.revoke("hpe-identity", t.accessToken);
    const res = await m.fetch("/support/entitlement/v1/warrantyCheck/SGH123/P123?cc=US&hsl=true");
    // Identity has no refresh: the 401 led to a new client-credentials grant and a successful retry.
    expect(res.status).toBe(200);
    const dump = JSON.stringify(m.events);
    expect(dump).not.toContain(t.accessToken);
    expect(dump).not.toContain(h.emu.providers["hpe-identity"].clientSecret);
  });
});
