/**
 * What a script sees of a failure: the exit code of each error code (README "Exit codes"), the `--json` error object
 * (only the fields that are set, `retry_at` never earlier than the truth) and the raw response kept out of it.
 */
import { describe, expect, it } from "vitest";
import { type ErrorCode, ExitCode, exitCodeFor, HpauthError, isHpauthError } from "../../src/engine/errors.js";

// README "Exit codes": 2 usage or configuration, 3 authentication, 4 rate-limited, 5 network/server/store, 130 cancelled,
// 1 internal.
const EXIT: Array<[ErrorCode, string, number]> = [
  ["USAGE", "usage", 2],
  ["CONFIG_INVALID", "usage", 2],
  ["PROFILE_NOT_FOUND", "usage", 2],
  ["SECRET_UNAVAILABLE", "usage", 2],
  ["LOGIN_REQUIRED", "auth", 3],
  ["INVALID_CLIENT", "auth", 3],
  ["INVALID_GRANT", "auth", 3],
  ["ACCESS_DENIED", "auth", 3],
  ["STATE_MISMATCH", "auth", 3],
  ["UNAUTHORIZED", "auth", 3],
  ["RATE_LIMITED", "rate_limited", 4],
  ["LOGIN_BUDGET_EXHAUSTED", "rate_limited", 4],
  ["NETWORK_ERROR", "network", 5],
  ["TIMEOUT", "network", 5],
  ["SERVER_ERROR", "network", 5],
  ["INVALID_RESPONSE", "network", 5],
  ["ANSWER_LOST", "network", 5],
  ["LOCK_TIMEOUT", "network", 5],
  ["STORE_ERROR", "store", 5],
  ["CANCELLED", "cancelled", 130],
  ["INTERNAL", "internal", 1],
];

describe("HpauthError", () => {
  it.each(EXIT)("%s is category %s, exit %i", (code, category, exit) => {
    const e = new HpauthError(code, "m");
    expect(e.category).toBe(category);
    expect(e.exitCode).toBe(exit);
    expect(exitCodeFor(e)).toBe(exit);
    expect(e.toJSON()).toEqual({ code, category, message: "m" });
  });

  it("anything else thrown is an internal error (exit 1)", () => {
    for (const thrown of [new Error("x"), new TypeError("x"), "a string", undefined, { code: "USAGE" }]) {
      expect(isHpauthError(thrown)).toBe(false);
      expect(exitCodeFor(thrown)).toBe(ExitCode.INTERNAL);
    }
    expect(isHpauthError(new HpauthError("USAGE", "m"))).toBe(true);
  });

  it("is an Error named HpauthError, with its message and cause", () => {
    const cause = new Error("socket hang up");
    const e = new HpauthError("NETWORK_ERROR", "could not reach", { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("HpauthError");
    expect(e.message).toBe("could not reach");
    expect(e.cause).toBe(cause);
    expect(String(e)).toBe("HpauthError: could not reach");
    // No cause given: none at all (not a `cause: undefined` that util.inspect would print).
    expect("cause" in new HpauthError("NETWORK_ERROR", "m")).toBe(false);
    expect("cause" in new HpauthError("NETWORK_ERROR", "m", { cause: undefined })).toBe(false);
  });

  it("--json carries every field that is set, under its documented name", () => {
    const e = new HpauthError("INVALID_CLIENT", "refused", {
      hint: "Check the client id.",
      retryAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
      status: 401,
      provider: "greenlake",
      profile: "work",
      oauthError: "invalid_client",
    });
    expect(e.toJSON()).toEqual({
      code: "INVALID_CLIENT",
      category: "auth",
      message: "refused",
      hint: "Check the client id.",
      retry_at: "2026-01-02T03:04:05Z",
      status: 401,
      provider: "greenlake",
      profile: "work",
      oauth_error: "invalid_client",
    });
    expect(e).toMatchObject({
      hint: "Check the client id.",
      status: 401,
      provider: "greenlake",
      profile: "work",
      oauthError: "invalid_client",
    });
    expect(e.retryAt?.getTime()).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
  });

  it("fields not given are left out of --json", () => {
    const e = new HpauthError("USAGE", "m", {});
    for (const k of ["hint", "retryAt", "status", "provider", "profile", "oauthError"] as const) {
      expect(e[k], k).toBeUndefined();
    }
    expect(Object.keys(e.toJSON()).sort()).toEqual(["category", "code", "message"]);
    // Empty values carry nothing either.
    expect(
      Object.keys(new HpauthError("USAGE", "m", { hint: "", status: 0, provider: "", profile: "" }).toJSON()).sort(),
    ).toEqual(["category", "code", "message"]);
  });

  it("retry_at rounds up to the second: a caller waiting until then is never early", () => {
    const at = (ms: number) => new HpauthError("RATE_LIMITED", "slow down", { retryAt: new Date(ms) }).toJSON();
    const t = Date.UTC(2026, 5, 1, 14, 30, 0);
    expect(at(t).retry_at).toBe("2026-06-01T14:30:00Z");
    expect(at(t + 1).retry_at).toBe("2026-06-01T14:30:01Z");
    expect(at(t + 999).retry_at).toBe("2026-06-01T14:30:01Z");
    // A date no RFC 3339 text can hold is null, not a throw.
    expect(at(Number.NaN).retry_at).toBeNull();
  });

  it("the raw response is kept but never enumerated, serialised or spread", () => {
    const response = new Response("secret body", { status: 500 });
    const e = new HpauthError("SERVER_ERROR", "m", { response, status: 500 });
    expect(e.response).toBe(response);
    expect(Object.keys(e)).not.toContain("response");
    expect(JSON.stringify(e)).not.toContain("secret body");
    expect({ ...e }).not.toHaveProperty("response");
    expect(() => {
      (e as unknown as { response: unknown }).response = undefined;
    }).toThrow(TypeError);
    expect(e.response).toBe(response);
  });
});
