/**
 * The fault matrix (issue 7, harness): every emulator fault type × every provider × its token, login and code
 * endpoints and its refresh, over real sockets. Each case asserts the error code and exit category, the message's
 * shape, the number of attempts (faults the emulator consumed, and its counters), a time bound, and what must
 * survive: the cached token and the refresh token in the store, the "refresh in flight" marker only when the
 * outcome is unknown, Aruba's login budget only when a token may exist. Retry settings are short and injected.
 */
import { describe, expect, it } from "vitest";
import type { FaultEndpoint, FaultSpec } from "../../src/emulator/index.js";
import type { ErrorCode } from "../../src/engine/errors.js";
import type { NamedProfile } from "../../src/engine/types.js";
import { type EmuProvider, useHarness } from "./helpers.js";

const h = useHarness();

/**
 * Short timeouts only where a timeout is the point (the `delay` rows); elsewhere generous ones, so that a loaded
 * machine cannot turn a slow setup request into a false failure.
 */
const TIMEOUT_MS = 800;
const DELAY_MS = 1600;
const ATTEMPTS = 2;
const RETRY = { attempts: ATTEMPTS, baseDelayMs: 10, maxDelayMs: 40, maxRetryAfterSeconds: 10 };
/** Set per case before its managers are made. */
let timeoutMs = TIMEOUT_MS;
const fast = () => ({ retry: { ...RETRY, timeoutMs, nonIdempotentTimeoutMs: timeoutMs } });
/** Injected faults per case: more than any case consumes, so "consumed" counts the attempts. */
const SUPPLY = 10;

type Manager = ReturnType<typeof h.manager>;

interface Target {
  name: string;
  /** Where the fault goes. */
  provider: EmuProvider;
  endpoint: FaultEndpoint;
  /** How the request names itself in messages. */
  what: string;
  /** Sent once (refresh, code exchange): an unknown outcome is ANSWER_LOST, never a resend. */
  once: boolean;
  refresh: boolean;
  arubaStep?: 1 | 2 | 3;
  /** A manager ready for the faulted call: no token (login rows), or a grant whose access token expired. */
  make(): Promise<Manager>;
}

function oauth2Profile(provider: "greenlake" | "techpulse", extra: Partial<NamedProfile>): NamedProfile {
  const info = h.emu.providers[provider];
  return {
    name: `oauth2-${provider}`,
    provider: "oauth2",
    clientId: info.clientId ?? "",
    clientSecret: info.clientSecret ?? "",
    ...extra,
  };
}

async function expired(m: Manager, seconds: number): Promise<Manager> {
  await m.getToken();
  await h.advance(seconds);
  return m;
}

const login = (provider: EmuProvider) => async () => h.manager(provider, {}, fast());

const TARGETS: Target[] = [
  {
    name: "greenlake token",
    provider: "greenlake",
    endpoint: "token",
    what: "GreenLake token request",
    once: false,
    refresh: false,
    make: login("greenlake"),
  },
  {
    name: "hpe-identity token",
    provider: "hpe-identity",
    endpoint: "token",
    what: "HPE Identity token request",
    once: false,
    refresh: false,
    make: login("hpe-identity"),
  },
  {
    name: "wxp login",
    provider: "wxp",
    endpoint: "login",
    what: "WXP login",
    once: false,
    refresh: false,
    make: login("wxp"),
  },
  {
    name: "oauth2 client_credentials (at GreenLake's token endpoint)",
    provider: "greenlake",
    endpoint: "token",
    what: "token request (client_credentials)",
    once: false,
    refresh: false,
    make: async () =>
      h.manager(
        "greenlake",
        {},
        {
          ...fast(),
          profile: oauth2Profile("greenlake", {
            tokenUrl: `${h.emu.providers.greenlake.baseUrl}/as/token.oauth2`,
            clientAuth: "client_secret_post",
          }),
        },
      ),
  },
  {
    name: "techpulse code exchange",
    provider: "techpulse",
    endpoint: "token",
    what: "TechPulse code exchange",
    once: true,
    refresh: false,
    make: login("techpulse"),
  },
  {
    name: "techpulse refresh",
    provider: "techpulse",
    endpoint: "token",
    what: "TechPulse token refresh",
    once: true,
    refresh: true,
    make: async () => expired(h.manager("techpulse", {}, fast()), 3600),
  },
  {
    name: "aruba step 1 (login)",
    provider: "aruba-central",
    endpoint: "login",
    what: "Aruba login (step 1)",
    once: false,
    refresh: false,
    arubaStep: 1,
    make: login("aruba-central"),
  },
  {
    name: "aruba step 2 (code)",
    provider: "aruba-central",
    endpoint: "code",
    what: "Aruba authorization code (step 2)",
    once: false,
    refresh: false,
    arubaStep: 2,
    make: login("aruba-central"),
  },
  {
    name: "aruba step 3 (token)",
    provider: "aruba-central",
    endpoint: "token",
    what: "Aruba token (step 3)",
    once: true,
    refresh: false,
    arubaStep: 3,
    make: login("aruba-central"),
  },
  {
    name: "aruba refresh",
    provider: "aruba-central",
    endpoint: "token",
    what: "Aruba token refresh",
    once: true,
    refresh: true,
    make: async () => expired(h.manager("aruba-central", {}, fast()), 7200),
  },
  {
    name: "oauth2 refresh (at TechPulse's token endpoint)",
    provider: "techpulse",
    endpoint: "token",
    what: "token refresh",
    once: true,
    refresh: true,
    make: async () => {
      const tp = h.manager("techpulse", {}, fast());
      await tp.getToken();
      const refreshToken = (await tp.store.get(tp.key))?.refreshToken ?? "";
      const m = h.manager(
        "techpulse",
        {},
        {
          ...fast(),
          authorizer: undefined,
          profile: oauth2Profile("techpulse", {
            tokenUrl: `${h.emu.providers.techpulse.baseUrl}/oauth/v1/token`,
            clientAuth: "client_secret_basic",
          }),
        },
      );
      await m.importTokens({ refreshToken });
      await h.advance(3600);
      return m;
    },
  },
];

interface Fault {
  name: string;
  spec: Omit<FaultSpec, "provider" | "endpoint" | "count">;
}

const FAULTS: Fault[] = [
  { name: "500", spec: { type: "status", status: 500 } },
  { name: "502", spec: { type: "status", status: 502 } },
  { name: "503", spec: { type: "status", status: 503 } },
  { name: "503 + Retry-After 1", spec: { type: "status", status: 503, retryAfter: 1 } },
  { name: "503 + Retry-After 600", spec: { type: "status", status: 503, retryAfter: 600 } },
  { name: "429", spec: { type: "status", status: 429 } },
  { name: "429 + Retry-After 1", spec: { type: "status", status: 429, retryAfter: 1 } },
  { name: "429 + Retry-After 600", spec: { type: "status", status: 429, retryAfter: 600 } },
  { name: "delay", spec: { type: "delay", delayMs: DELAY_MS } },
  { name: "malformed", spec: { type: "malformed" } },
  { name: "truncated", spec: { type: "truncated" } },
  { name: "html", spec: { type: "html" } },
  { name: "drop", spec: { type: "drop" } },
];

interface Expected {
  code: ErrorCode;
  exit: number;
  attempts: number;
  retryAt: boolean;
  /** Each wait between attempts, when it is fixed (Retry-After); else backoff within [1, maxDelayMs]. */
  sleepMs?: number;
}

function expected(t: Target, f: Fault): Expected {
  const { spec } = f;
  const far = (spec.retryAfter ?? 0) > RETRY.maxRetryAfterSeconds;
  const ra = spec.retryAfter !== undefined && !far ? { sleepMs: spec.retryAfter * 1000 } : {};
  if (spec.type === "status" && spec.status === 429) {
    // Aruba's 429 at steps 1 and 2 is its 30-minute budget: no retry.
    if (t.arubaStep === 1 || t.arubaStep === 2)
      return { code: "LOGIN_BUDGET_EXHAUSTED", exit: 4, attempts: 1, retryAt: true };
    if (far) return { code: "RATE_LIMITED", exit: 4, attempts: 1, retryAt: true };
    return { code: "RATE_LIMITED", exit: 4, attempts: ATTEMPTS, retryAt: spec.retryAfter !== undefined, ...ra };
  }
  if (spec.type === "status" || spec.type === "html") {
    if (far) return { code: "SERVER_ERROR", exit: 5, attempts: 1, retryAt: true };
    return { code: "SERVER_ERROR", exit: 5, attempts: ATTEMPTS, retryAt: spec.retryAfter !== undefined, ...ra };
  }
  // An unknown outcome: a request sent once is not sent again.
  if (t.once) return { code: "ANSWER_LOST", exit: 5, attempts: 1, retryAt: false };
  const code: ErrorCode =
    spec.type === "delay" ? "TIMEOUT" : spec.type === "malformed" ? "INVALID_RESPONSE" : "NETWORK_ERROR";
  return { code, exit: 5, attempts: ATTEMPTS, retryAt: false };
}

async function pendingFaults(): Promise<Array<{ remaining: number }>> {
  const res = await fetch(`${h.emu.adminUrl}/faults`);
  return ((await res.json()) as { faults: Array<{ remaining: number }> }).faults;
}

const CASES = TARGETS.flatMap((t) => FAULTS.map((f) => [`${t.name} × ${f.name}`, t, f] as const));

describe("fault matrix", () => {
  it.each(CASES)("%s", async (_name, t, f) => {
    timeoutMs = f.spec.type === "delay" ? TIMEOUT_MS : 10_000;
    const m = await t.make();
    const before = await m.store.get(m.key);
    if (t.refresh) {
      expect(before?.refreshToken).toBeTruthy();
      expect(before?.accessToken).toBeTruthy();
    }
    await h.emu.admin.resetCounters();
    h.sleeps.length = 0;
    await h.emu.admin.fault({ provider: t.provider, endpoint: t.endpoint, count: SUPPLY, ...f.spec });
    const exp = expected(t, f);

    const started = Date.now();
    const err = await m.getToken().catch((e) => e);
    const elapsed = Date.now() - started;

    // Code and exit category.
    expect(err?.name, String(err?.stack ?? err)).toBe("HpauthError");
    expect(err.code).toBe(exp.code);
    expect(err.exitCode).toBe(exp.exit);
    expect(err.retryAt instanceof Date).toBe(exp.retryAt);

    // Attempts: the faults the emulator consumed, and its own request counter where it has one.
    const left = (await pendingFaults()).reduce((n, x) => n + x.remaining, 0);
    expect(SUPPLY - left).toBe(exp.attempts);
    if (t.endpoint === "token" || t.provider === "wxp") {
      expect((await h.counters(t.provider)).tokenRequests).toBe(exp.attempts);
    }

    // Waits and time: Retry-After waited out exactly, backoff bounded; no timeout waited more than once per attempt.
    expect(h.sleeps).toHaveLength(exp.attempts - 1);
    for (const s of h.sleeps) {
      if (exp.sleepMs !== undefined) expect(s).toBe(exp.sleepMs);
      else {
        expect(s).toBeGreaterThanOrEqual(1);
        expect(s).toBeLessThanOrEqual(RETRY.maxDelayMs);
      }
    }
    const waits = f.spec.type === "delay" ? exp.attempts * TIMEOUT_MS : 0;
    expect(elapsed).toBeLessThan(waits + 2500);

    // Message shape: names the request once, the origin, no HTML, no secret, no raw `fetch failed`.
    const text = `${err.message}\n${err.hint ?? ""}`;
    const origin = new URL(h.emu.providers[t.provider].baseUrl).origin;
    if (exp.code === "LOGIN_BUDGET_EXHAUSTED") {
      expect(err.message).toMatch(/^Aruba Central refused (the login|a new authorization code): one new token/);
    } else {
      expect(err.message.startsWith(`${t.what}`)).toBe(true);
      expect(err.message.split(t.what)).toHaveLength(2);
      expect(err.message).toContain(origin);
    }
    expect(text).not.toMatch(/<[a-z!/]/i);
    expect(text).not.toContain("fetch failed");
    expect(text).not.toContain("undefined");
    const info = h.emu.providers[t.provider];
    for (const secret of [info.clientSecret, info.password, before?.refreshToken, before?.accessToken]) {
      if (secret) expect(text).not.toContain(secret);
    }
    if (exp.code === "ANSWER_LOST") {
      expect(err.message).toMatch(
        t.refresh
          ? /the server may have rotated the refresh token, so it was not sent again$/
          : /the server may have used the authorization code and created a token, so it was not sent again$/,
      );
    }

    // What survives the failure.
    const after = await m.store.get(m.key);
    if (t.refresh) {
      expect(after?.accessToken).toBe(before?.accessToken);
      expect(after?.refreshToken).toBe(before?.refreshToken);
      // The marker stays exactly when the outcome is unknown.
      expect(after?.refreshPendingSince !== undefined).toBe(exp.code === "ANSWER_LOST");
    } else {
      expect(after?.accessToken).toBeUndefined();
    }
    expect(after?.lastError?.code).toBe(exp.code);
    const budgetKept =
      t.arubaStep !== undefined &&
      (exp.code === "LOGIN_BUDGET_EXHAUSTED" || (t.arubaStep === 3 && exp.code === "ANSWER_LOST"));
    if (t.arubaStep !== undefined) {
      expect((await m.status()).nextLoginAllowedAt !== undefined, "Aruba budget kept").toBe(budgetKept);
    }

    // Afterwards, with the faults gone (and any delayed request finished at the server).
    await h.emu.admin.clearFaults();
    if (f.spec.type === "delay") await new Promise((r) => setTimeout(r, DELAY_MS - TIMEOUT_MS + 300));
    await h.emu.admin.resetCounters();
    const next = await m.getToken().catch((e) => e);
    const c = await h.counters(t.provider);
    if (t.refresh && f.spec.type === "delay") {
      // The delayed refresh did reach the server and rotated: the kept refresh token is refused as reused, the
      // marker made that certain, and the dead refresh token is gone from the store.
      expect(c.refusals.refresh_reused).toBe(1);
      expect(m.events.find((e) => e.type === "grant_dead")?.message).toMatch(/whose answer was lost, had rotated it/);
      expect((await m.store.get(m.key))?.refreshToken).not.toBe(before?.refreshToken);
    } else if (t.refresh) {
      expect(next.source).toBe("refresh");
      expect(c).toMatchObject({ refreshes: 1, logins: 0, refusals: {} });
      expect((await m.store.get(m.key))?.refreshPendingSince).toBeUndefined();
    } else if (budgetKept) {
      expect(next.code).toBe("LOGIN_BUDGET_EXHAUSTED");
      expect(c.logins + c.tokenRequests).toBe(0);
    } else {
      expect(next.source).toBe("login");
    }
  });
});
