/**
 * The manager's events (what --verbose prints) and its fetch wrapper: every event names the profile and provider, a
 * logger that throws never breaks a token request, a wait for another holder's lock is said; fetch resolves paths
 * against the API base and sends the Bearer token nowhere else, retries a refused request once when its body can be
 * sent again, and says so when it cannot; GreenLake's HPE_GL_ERROR "expired" bodies count as refusals.
 */
import { describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import { useHarness } from "./helpers.js";

const h = useHarness();

describe("events", () => {
  it("carry the profile and provider, keep their non-text fields, and a throwing logger changes nothing", async () => {
    let calls = 0;
    const m = createTokenManager({
      profile: h.profile("aruba-central"),
      runtime: h.runtime,
      onEvent: () => {
        calls++;
        throw new Error("the logger is broken");
      },
    });
    const t = await m.getToken();
    expect(t.source).toBe("login");
    expect((await m.getToken()).source).toBe("cache");
    expect(calls).toBeGreaterThanOrEqual(3);
  });

  it("a wait for another holder's lock is said, then how long it took", async () => {
    const a = h.manager("aruba-central");
    await a.getToken();
    await h.advance(7200);
    const b = h.manager("aruba-central", {}, { store: a.store });
    await h.emu.admin.fault({ provider: "aruba-central", endpoint: "token", type: "delay", delayMs: 700 });
    const first = a.getToken();
    await new Promise((r) => setTimeout(r, 50));
    const [ta, tb] = await Promise.all([first, b.getToken()]);
    expect(tb.accessToken).toBe(ta.accessToken);
    const types = b.events.map((e) => e.type);
    expect(types).toContain("lock_wait");
    const waited = b.events.find((e) => e.type === "lock_acquired");
    expect(waited?.message).toMatch(/^lock acquired after \S+$/);
    expect(waited?.waitedMs).toBeGreaterThanOrEqual(200);
    expect(b.events.find((e) => e.type === "lock_wait")?.message).toBe(
      "waiting for another caller or process holding this credential's lock",
    );
    for (const e of b.events) expect(e).toMatchObject({ profile: "aruba-central-test", provider: "aruba-central" });
    // The holder itself never waited.
    expect(a.events.some((e) => e.type === "lock_wait" || e.type === "lock_acquired")).toBe(false);
  });

  it("invalidate marks only the token named; logout says so", async () => {
    const m = h.manager("aruba-central");
    const t = await m.getToken();
    await m.invalidate("some-other-token");
    expect((await m.getToken()).accessToken).toBe(t.accessToken);
    expect(m.events.some((e) => e.type === "invalidate")).toBe(false);
    await m.invalidate(t.accessToken);
    expect(m.events.find((e) => e.type === "invalidate")?.message).toBe("access token marked invalid");
    const rec = await m.store.get(m.key);
    expect(rec?.expiresAt).toBe(0);
    expect(rec?.refreshToken).toBeTypeOf("string");
    await m.logout();
    expect(m.events.find((e) => e.type === "logout")?.message).toBe("stored tokens deleted");
  });
});

describe("fetch", () => {
  const GRAPH = "/analytics/v1/reports/hwinv/deviceType/type/graph";

  it("a refused request whose body is a stream is not sent again: the 401 is the caller's, said in an event", async () => {
    const m = h.manager("techpulse");
    await m.getToken();
    await h.emu.admin.fault({ provider: "techpulse", endpoint: "api", type: "status", status: 401 });
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("{}"));
        c.close();
      },
    });
    const res = await m.fetch(GRAPH, { method: "POST", body, duplex: "half" } as RequestInit);
    expect(res.status).toBe(401);
    const said = m.events.filter((e) => e.type === "unauthorized");
    expect(said).toHaveLength(1);
    expect(said[0]?.message).toMatch(/^HTTP 401 on http:\/\/127\.0\.0\.1:\d+; body not replayable, not retried$/);
    expect(said[0]?.status).toBe(401);
    const c = await h.counters("techpulse");
    expect(c.apiCalls).toBe(1);
    expect(c.refreshes).toBe(0);
  });

  it.each([
    ["a string", () => "{}"],
    ["URLSearchParams", () => new URLSearchParams({ a: "1" })],
    ["bytes", () => new TextEncoder().encode("{}")],
    ["an ArrayBuffer", () => new TextEncoder().encode("{}").buffer],
    ["a Blob", () => new Blob(["{}"])],
    ["FormData", () => new FormData()],
  ])("a refused request with %s as body: one refresh, one retry", async (_n, body) => {
    const m = h.manager("techpulse");
    await m.getToken();
    await h.emu.admin.fault({ provider: "techpulse", endpoint: "api", type: "status", status: 401 });
    const res = await m.fetch(GRAPH, { method: "POST", body: body() as RequestInit["body"] });
    expect(res.status).not.toBe(401);
    expect(m.events.find((e) => e.type === "unauthorized")?.message).toMatch(
      /^HTTP 401 on http:\/\/127\.0\.0\.1:\d+: refreshing once and retrying$/,
    );
    const c = await h.counters("techpulse");
    expect(c.apiCalls).toBe(2);
    expect(c.refreshes).toBe(1);
  });

  it("paths resolve against the API base; absolute URLs only at the profile's origins", async () => {
    const m = h.manager("hpe-identity", { baseUrl: `${h.emu.providers["hpe-identity"].baseUrl}/apigwext/` });
    const origin = new URL(h.emu.providers["hpe-identity"].baseUrl).origin;
    expect(m.apiUrl("/v1/x").href).toBe(`${origin}/apigwext/v1/x`);
    expect(m.apiUrl("v1/x").href).toBe(`${origin}/apigwext/v1/x`);
    expect(m.apiUrl(`${origin}/elsewhere`).href).toBe(`${origin}/elsewhere`);
    expect(m.apiUrl(new URL(`${origin}/u`)).href).toBe(`${origin}/u`);
    const err = (() => {
      try {
        m.apiUrl("https://evil.example/steal");
      } catch (e) {
        return e as { code: string; message: string; hint: string };
      }
    })();
    expect(err?.code).toBe("USAGE");
    expect(err?.message).toBe(
      `Refusing to send the ${m.profile.name} token to https://evil.example: not the profile's API origin`,
    );
    expect(err?.hint).toBe("Use a path relative to the API base, or set apiBaseUrl.");
    expect(() => m.apiUrl(new URL("https://evil.example/"))).toThrow(/Refusing to send/);
  });
});

describe("isAuthFailure", () => {
  const res = (status: number, text: string) => {
    const r = new Response(text, { status });
    return r;
  };

  it("401 always; GreenLake's HPE_GL_ERROR 400/403 bodies only when they say expired; nothing else", async () => {
    const gl = h.manager("greenlake");
    const aruba = h.manager("aruba-central");
    expect(await aruba.isAuthFailure(res(401, ""))).toBe(true);
    expect(
      await gl.isAuthFailure(res(403, '{"errorCode":"HPE_GL_ERROR_UNAUTHORIZED","message":"Token expired"}')),
    ).toBe(true);
    expect(await gl.isAuthFailure(res(400, '{"errorCode":"HPE_GL_ERROR_BAD_REQUEST","message":"EXPIRED jwt"}'))).toBe(
      true,
    );
    expect(await gl.isAuthFailure(res(403, '{"errorCode":"HPE_GL_ERROR_FORBIDDEN","message":"no access"}'))).toBe(
      false,
    );
    expect(await gl.isAuthFailure(res(403, '{"message":"token expired"}'))).toBe(false);
    expect(await gl.isAuthFailure(res(404, '{"errorCode":"HPE_GL_ERROR_X","message":"expired"}'))).toBe(false);
    expect(await aruba.isAuthFailure(res(403, '{"errorCode":"HPE_GL_ERROR_X","message":"expired"}'))).toBe(false);
    // The body is read from a clone: the caller can still read it.
    const r = res(403, "HPE_GL_ERROR expired");
    await gl.isAuthFailure(r);
    expect(await r.text()).toBe("HPE_GL_ERROR expired");
  });
});
