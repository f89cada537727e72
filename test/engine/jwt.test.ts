import { describe, expect, it } from "vitest";
import { decodeJwtToken } from "../../src/engine/inspect.js";
import { jwtExpiry } from "../../src/engine/jwt.js";

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const jwt = (header: unknown, claims: unknown, sig = "c2ln") => `${b64(header)}.${b64(claims)}.${sig}`;

describe("jwtExpiry (jose-free) agrees with the jose-based decodeJwtToken", () => {
  const cases: Array<[string, string]> = [
    ["exp in seconds", jwt({ alg: "RS256" }, { exp: 1_900_000_000, sub: "x" })],
    ["fractional exp", jwt({ alg: "RS256" }, { exp: 1_900_000_000.5 })],
    ["no exp", jwt({ alg: "none" }, { sub: "x" })],
    ["exp as a string", jwt({ alg: "RS256" }, { exp: "1900000000" })],
    ["non-ASCII claims", jwt({ alg: "RS256" }, { exp: 1_800_000_000, name: "Zoë ✓" })],
    ["empty signature", jwt({ alg: "none" }, { exp: 1_800_000_000 }, "")],
    ["opaque token", "2YotnFZFEjr1zCsicMWpAA"],
    ["two segments", `${b64({ alg: "RS256" })}.${b64({ exp: 1 })}`],
    ["five segments (JWE)", `${jwt({ alg: "RS256" }, { exp: 1 })}.a.b`],
    ["payload not JSON", `${b64({ alg: "RS256" })}.${b64("not json")}.c2ln`],
    ["payload an array", jwt({ alg: "RS256" }, [1, 2])],
    ["payload null", jwt({ alg: "RS256" }, null)],
    ["header not JSON", `${b64("nope")}.${b64({ exp: 1_900_000_000 })}.c2ln`],
    ["empty payload", `${b64({ alg: "RS256" })}..c2ln`],
    ["not base64url", `${b64({ alg: "RS256" })}.e30+/.c2ln`],
  ];
  for (const [name, token] of cases) {
    it(name, () => {
      expect(jwtExpiry(token)).toBe(decodeJwtToken(token)?.expiresAt?.getTime());
    });
  }

  it("reads exp as epoch ms", () => {
    expect(jwtExpiry(jwt({ alg: "RS256" }, { exp: 1_900_000_000 }))).toBe(1_900_000_000_000);
    expect(jwtExpiry("opaque")).toBeUndefined();
  });
});
