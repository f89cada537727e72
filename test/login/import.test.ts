/**
 * `hpauth login --import`'s parser: the token JSON Aruba Central's UI downloads, its camelCase and wrapped forms,
 * and how `expires_in` is aged by `created_at` (ms or s). Errors name fields, never values.
 */
import { describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { parseImportedTokens } from "../../src/engine/login/import.js";

const NOW = 1_800_000_000_000; // ms

function refusal(text: string): HpauthError {
  try {
    parseImportedTokens(text, NOW);
  } catch (e) {
    expect(e).toBeInstanceOf(HpauthError);
    expect((e as HpauthError).code).toBe("USAGE");
    return e as HpauthError;
  }
  throw new Error("expected a refusal");
}

describe("parseImportedTokens", () => {
  it("reads Aruba's download, ageing expires_in by created_at in milliseconds", () => {
    const text = JSON.stringify({
      access_token: " acc-1 ",
      refresh_token: " ref-1 ",
      expires_in: 7200,
      created_at: NOW - 1_000_000,
      token_type: "bearer",
    });
    expect(parseImportedTokens(text, NOW)).toEqual({ accessToken: "acc-1", refreshToken: "ref-1", expiresIn: 6200 });
  });

  it("takes created_at in seconds too, and a created_at in the future leaves expires_in as it is", () => {
    const secs = JSON.stringify({
      accessToken: "a",
      refreshToken: "r",
      expiresIn: "7200",
      createdAt: NOW / 1000 - 200,
    });
    expect(parseImportedTokens(secs, NOW)).toEqual({ accessToken: "a", refreshToken: "r", expiresIn: 7000 });
    const future = JSON.stringify({ access_token: "a", refresh_token: "r", expires_in: 100, created_at: NOW + 5000 });
    expect(parseImportedTokens(future, NOW).expiresIn).toBe(100);
    // created_at exactly now: aged by nothing.
    const exact = JSON.stringify({ access_token: "a", refresh_token: "r", expires_in: 100, created_at: NOW });
    expect(parseImportedTokens(exact, NOW).expiresIn).toBe(100);
    // created_at 0 or negative is no date: expires_in as given.
    for (const created of [0, -5]) {
      const t = JSON.stringify({ access_token: "a", refresh_token: "r", expires_in: 100, created_at: created });
      expect(parseImportedTokens(t, NOW).expiresIn).toBe(100);
    }
  });

  it("an expired import reads as 0 seconds left; a lifetime that overflows, or with no access token, is dropped", () => {
    const old = JSON.stringify({ access_token: "a", refresh_token: "r", expires_in: 60, created_at: NOW - 3_600_000 });
    expect(parseImportedTokens(old, NOW).expiresIn).toBe(0);
    const huge = JSON.stringify({ access_token: "a", refresh_token: "r", expires_in: 1e308, created_at: NOW - 1000 });
    expect(parseImportedTokens(huge, NOW)).toEqual({ accessToken: "a", refreshToken: "r" });
    expect(parseImportedTokens(JSON.stringify({ refresh_token: "r", expires_in: 60 }), NOW)).toEqual({
      refreshToken: "r",
    });
    // Unreadable numbers are ignored, not NaN.
    for (const v of ["", " ", "soon", null, true]) {
      const t = JSON.stringify({ access_token: "a", refresh_token: "r", expires_in: v });
      expect(parseImportedTokens(t, NOW), String(v)).toEqual({ accessToken: "a", refreshToken: "r" });
    }
  });

  it("unwraps {token|tokens|data: {...}} up to two levels, but not when the outer object has the refresh token", () => {
    const inner = { access_token: "a", refresh_token: "r" };
    for (const w of ["token", "tokens", "data"]) {
      expect(parseImportedTokens(JSON.stringify({ [w]: inner }), NOW)).toEqual({ accessToken: "a", refreshToken: "r" });
    }
    expect(parseImportedTokens(JSON.stringify({ data: { token: inner } }), NOW).refreshToken).toBe("r");
    // Three levels is beyond what any tool writes: refused, not searched.
    expect(refusal(JSON.stringify({ data: { data: { token: inner } } })).message).toBe(
      "The token file has no refresh_token (or refreshToken)",
    );
    const outer = { refresh_token: "outer", data: { refresh_token: "inner" } };
    expect(parseImportedTokens(JSON.stringify(outer), NOW).refreshToken).toBe("outer");
    // A wrapper that is not an object is no wrapper.
    expect(refusal(JSON.stringify({ data: "x" })).message).toMatch(/no refresh_token/);
  });

  it("snake_case wins over camelCase; empty or null values count as missing", () => {
    const both = JSON.stringify({ refresh_token: "snake", refreshToken: "camel" });
    expect(parseImportedTokens(both, NOW).refreshToken).toBe("snake");
    const empties = JSON.stringify({
      refresh_token: "",
      refreshToken: "camel",
      access_token: null,
      accessToken: "acc",
    });
    expect(parseImportedTokens(empties, NOW)).toEqual({ refreshToken: "camel", accessToken: "acc" });
    // A blank access token is no access token.
    expect(parseImportedTokens(JSON.stringify({ refresh_token: "r", access_token: "  " }), NOW)).toEqual({
      refreshToken: "r",
    });
  });

  it("a byte-order mark is fine", () => {
    expect(parseImportedTokens(`\uFEFF${JSON.stringify({ refresh_token: "r" })}`, NOW).refreshToken).toBe("r");
  });

  it("refuses, naming the field and never a value", () => {
    const notJson = refusal("{ refresh_token: secret-value-1 ");
    expect(notJson.message).toBe("The token file is not valid JSON");
    expect(notJson.hint).toContain("JSON downloaded from Aruba Central");
    expect(JSON.stringify(notJson)).not.toContain("secret-value-1");
    for (const t of ["[]", "null", '"text"', "42"]) {
      expect(refusal(t).message, t).toBe("The token file must hold a JSON object");
    }
    const noRefresh = refusal(JSON.stringify({ access_token: "secret-value-2" }));
    expect(noRefresh.message).toBe("The token file has no refresh_token (or refreshToken)");
    expect(noRefresh.hint).toBe(
      "hpauth keeps an imported login alive by refreshing it, so it needs the refresh token.",
    );
    expect(`${noRefresh.message} ${noRefresh.hint}`).not.toContain("secret-value-2");
    expect(refusal(JSON.stringify({ refresh_token: "   " })).message).toMatch(/no refresh_token/);
    expect(refusal(JSON.stringify({ refresh_token: 12345 })).message).toMatch(/no refresh_token/);
    expect(refusal(JSON.stringify({ refresh_token: "r", access_token: 12345 })).message).toBe(
      "The token file's access_token is not a string",
    );
  });
});
