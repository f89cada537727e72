/**
 * Each crash the fuzz harness found, as a plain test with the (shrunk) input it found: these failed before the fix.
 */
import { describe, expect, it } from "vitest";
import { isTimeMs } from "../../src/engine/dates.js";
import { HpauthError } from "../../src/engine/errors.js";
import { parseRetryAfter } from "../../src/engine/http.js";
import { jwtExpiry } from "../../src/engine/jwt.js";
import { parseImportedTokens } from "../../src/engine/login/import.js";
import { createTokenManager } from "../../src/engine/manager.js";
import type { NamedProfile } from "../../src/engine/types.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";

const NOW = 1_780_000_000_000;

function managerAnswering(profile: NamedProfile, answer: () => Response) {
  return createTokenManager({
    profile,
    store: new MemoryTokenStore(),
    runtime: { fetch: async () => answer(), now: () => NOW, sleep: async () => {}, env: {} },
    retry: { attempts: 1 },
  });
}

async function rejection(p: Promise<unknown>): Promise<HpauthError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HpauthError);
  return e as HpauthError;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

describe("fuzz regressions", () => {
  it("oauth2: an error_description that is a number is an HpauthError, not `body.replace is not a function`", async () => {
    const m = managerAnswering(
      {
        name: "o",
        provider: "oauth2",
        tokenUrl: "https://fuzz.invalid/token",
        clientId: "c",
        clientSecret: "s3cr3t-v",
      },
      () => json(403, { error: " ", error_description: -5e-324 }),
    );
    const e = await rejection(m.getToken());
    expect(e.message).toMatch(/refused: HTTP 403/);
  });

  it("jwtExpiry: exp = -1e308 has no millisecond value: undefined, not -Infinity", () => {
    expect(jwtExpiry("e30.eyJleHAiOi0xZSszMDh9.c2ln")).toBeUndefined();
  });

  it("Aruba: a 429 with Retry-After 99999999999999 is LOGIN_BUDGET_EXHAUSTED with a printable retry_at", async () => {
    const m = managerAnswering(
      {
        name: "a",
        provider: "aruba-central",
        baseUrl: "https://fuzz.invalid",
        clientId: "c",
        clientSecret: "s3cr3t-v",
        username: "u",
        password: "p4ssw0rd",
        customerId: "x",
      },
      () => json(429, {}, { "retry-after": "99999999999999" }),
    );
    const e = await rejection(m.getToken());
    expect(e.code).toBe("LOGIN_BUDGET_EXHAUSTED");
    expect(isTimeMs(e.retryAt?.getTime())).toBe(true);
    expect(JSON.stringify(e.toJSON())).toContain("retry_at");
  });

  it("any provider: a 429 with a huge Retry-After is RATE_LIMITED with a printable retry_at", async () => {
    const m = managerAnswering(
      { name: "g", provider: "greenlake", baseUrl: "https://fuzz.invalid", clientId: "c", clientSecret: "s3cr3t-v" },
      () => json(429, {}, { "retry-after": "99999999999999" }),
    );
    const e = await rejection(m.getToken());
    expect(e.code).toBe("RATE_LIMITED");
    expect(isTimeMs(e.retryAt?.getTime())).toBe(true);
    expect(parseRetryAfter(`1${"0".repeat(400)}`, NOW)).toBeLessThan(8.64e12);
  });

  it("import: expires_in = 1e308 aged by created_at gives no lifetime, not Infinity", () => {
    const r = parseImportedTokens(
      JSON.stringify({ accessToken: "Bearer", refresh_token: "Bearer", expires_in: 1e308, created_at: NOW }),
      NOW,
    );
    expect(r.expiresIn).toBeUndefined();
  });

  it("oauth2 (no maximum lifetime): expires_in = 1e20 is bounded to a printable expiry", async () => {
    const m = managerAnswering(
      {
        name: "o",
        provider: "oauth2",
        tokenUrl: "https://fuzz.invalid/token",
        clientId: "c",
        clientSecret: "s3cr3t-v",
      },
      () => json(200, { access_token: "opaque-token-value", token_type: "Bearer", expires_in: 1e20 }),
    );
    const t = await m.getToken();
    expect(isTimeMs(t.expiresAt.getTime())).toBe(true);
    expect((await m.status()).expiresAt?.toISOString()).toMatch(/^9999-/);
  });
});
