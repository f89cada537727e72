/**
 * The one freshness rule (src/engine/fresh.ts), shared by TokenManager and the CLI's cached-token probe: when a
 * stored access token may be served without asking the identity service, and what the served token says.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_MARGIN_SECONDS, isFresh, MAX_JITTER, recordToken, refreshMargin } from "../../src/engine/fresh.js";
import type { TokenRecord } from "../../src/stores/types.js";

const S = 1000;
const H = 3600 * S;

describe("refreshMargin", () => {
  it("the margin, plus a jitter of at most 10% of the lifetime and at most a minute", () => {
    expect(DEFAULT_MARGIN_SECONDS).toBe(60);
    expect(refreshMargin(H, 60 * S, 0)).toBe(60 * S);
    // 10% of an hour is 6 minutes: the minute cap applies.
    expect(refreshMargin(H, 60 * S, 1)).toBe(120 * S);
    expect(refreshMargin(H, 60 * S, 0.5)).toBe(90 * S);
    // 10% of 20 minutes is 2 minutes: capped at one.
    expect(refreshMargin(20 * 60 * S, 60 * S, 0.5)).toBe(90 * S);
    // 10% of 5 minutes is 30 s: under the cap, so it is the bound.
    expect(refreshMargin(300 * S, 60 * S, 1)).toBe(90 * S);
    expect(refreshMargin(300 * S, 60 * S, 0.5)).toBe(75 * S);
  });

  it("never more than half the lifetime, or a short-lived token would always be expiring", () => {
    expect(refreshMargin(100 * S, 60 * S, 0)).toBe(50 * S);
    expect(refreshMargin(100 * S, 60 * S, 1)).toBe(50 * S);
    expect(refreshMargin(130 * S, 60 * S, 0)).toBe(60 * S);
    expect(refreshMargin(0, 60 * S, 1)).toBe(0);
  });
});

describe("isFresh", () => {
  const now = 1_700_000_000_000;
  const rec = (leftMs: number, lifetimeMs = H) => ({
    accessToken: "at",
    expiresAt: now + leftMs,
    obtainedAt: now + leftMs - lifetimeMs,
  });

  it("fresh while more than the margin is left, not at the margin", () => {
    expect(isFresh(rec(60 * S + 1), now, 0, 60 * S, 0)).toBe(true);
    expect(isFresh(rec(60 * S), now, 0, 60 * S, 0)).toBe(false);
    expect(isFresh(rec(30 * S), now, 0, 60 * S, 0)).toBe(false);
    expect(isFresh(rec(-1), now, 0, 60 * S, 0)).toBe(false);
    // The jitter widens the margin: with the largest draw a minute more must be left.
    expect(isFresh(rec(100 * S), now, 0, 60 * S, MAX_JITTER)).toBe(false);
    expect(isFresh(rec(120 * S + 1), now, 0, 60 * S, MAX_JITTER)).toBe(true);
  });

  it("a caller's minimum time to live counts when it is longer than the margin", () => {
    expect(isFresh(rec(10 * 60 * S), now, 5 * 60 * S, 60 * S, 0)).toBe(true);
    expect(isFresh(rec(5 * 60 * S), now, 5 * 60 * S, 60 * S, 0)).toBe(false);
    expect(isFresh(rec(4 * 60 * S), now, 5 * 60 * S, 60 * S, 0)).toBe(false);
    // A shorter one does not lower the margin.
    expect(isFresh(rec(50 * S), now, 10 * S, 60 * S, 0)).toBe(false);
  });

  it("the lifetime is from obtainedAt: a short-lived token keeps half of it as margin", () => {
    // 100 s lifetime: margin min(60 s, 50 s) = 50 s.
    expect(isFresh(rec(51 * S, 100 * S), now, 0, 60 * S, 0)).toBe(true);
    expect(isFresh(rec(50 * S, 100 * S), now, 0, 60 * S, 0)).toBe(false);
    // Without obtainedAt the lifetime is unknown (0): the margin is 0, only the minimum TTL counts.
    expect(isFresh({ accessToken: "at", expiresAt: now + 1 }, now, 0, 60 * S, 1)).toBe(true);
    expect(isFresh({ accessToken: "at", expiresAt: now }, now, 0, 60 * S, 1)).toBe(false);
    expect(isFresh({ accessToken: "at", expiresAt: now + 10 * S }, now, 20 * S, 60 * S, 0)).toBe(false);
  });

  it("nothing to serve: no record, no access token, no expiry", () => {
    expect(isFresh(undefined, now, 0, 0, 0)).toBe(false);
    expect(isFresh({ expiresAt: now + H, obtainedAt: now }, now, 0, 0, 0)).toBe(false);
    expect(isFresh({ accessToken: "", expiresAt: now + H, obtainedAt: now }, now, 0, 0, 0)).toBe(false);
    expect(isFresh({ accessToken: "at", obtainedAt: now }, now, 0, 0, 0)).toBe(false);
  });
});

describe("recordToken", () => {
  const profile = { name: "work", provider: "greenlake" as const };

  it("the token a record stands for, Bearer, with its scope when it has one", () => {
    const rec: TokenRecord = {
      v: 1,
      provider: "greenlake",
      accessToken: "at-1",
      expiresAt: 1_700_000_000_000,
      scope: "read",
      updatedAt: 1,
    };
    expect(recordToken(rec, "cache", profile)).toEqual({
      accessToken: "at-1",
      tokenType: "Bearer",
      expiresAt: new Date(1_700_000_000_000),
      scope: "read",
      source: "cache",
      profile: "work",
      provider: "greenlake",
    });
    const bare = recordToken(
      { v: 1, provider: "greenlake", accessToken: "at-2", expiresAt: 5, updatedAt: 1 },
      "refresh",
      profile,
    );
    expect(bare).not.toHaveProperty("scope");
    expect(bare.source).toBe("refresh");
  });

  it("a record without token or expiry: an empty token that has expired", () => {
    const t = recordToken({ v: 1, provider: "greenlake", updatedAt: 1 }, "cache", profile);
    expect(t.accessToken).toBe("");
    expect(t.expiresAt.getTime()).toBe(0);
  });
});
