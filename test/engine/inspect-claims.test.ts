/**
 * `hpauth inspect` and library users: what a token claims (header, claims, its instants when printable), what
 * HPE Identity's zip_authorities hold, and which Entitlement Engine contracts are G-blocked (never deliverable).
 */
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  decodeJwtToken,
  decodeZipAuthorities,
  flagGBlockedContracts,
  isGBlockedStatus,
  jwtExpiry,
} from "../../src/engine/inspect.js";

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
const jwt = (header: unknown, claims: unknown) => `${b64(header)}.${b64(claims)}.c2ln`;

describe("decodeJwtToken", () => {
  it("the header, every claim, and exp / iat as dates", () => {
    const d = decodeJwtToken(jwt({ alg: "RS256", kid: "k1" }, { sub: "u", exp: 1_900_000_000, iat: 1_800_000_000 }));
    expect(d).toEqual({
      header: { alg: "RS256", kid: "k1" },
      claims: { sub: "u", exp: 1_900_000_000, iat: 1_800_000_000 },
      expiresAt: new Date(1_900_000_000_000),
      issuedAt: new Date(1_800_000_000_000),
    });
  });

  it("an instant no date can print stays a claim without a date", () => {
    const d = decodeJwtToken(jwt({ alg: "none" }, { exp: 1e20, iat: -5 }));
    expect(d?.claims).toEqual({ exp: 1e20, iat: -5 });
    expect(d).not.toHaveProperty("expiresAt");
    expect(d).not.toHaveProperty("issuedAt");
    const s = decodeJwtToken(jwt({ alg: "none" }, { exp: "1900000000", iat: "1800000000" }));
    expect(s).not.toHaveProperty("expiresAt");
    expect(s).not.toHaveProperty("issuedAt");
    // The epoch itself is an instant.
    expect(decodeJwtToken(jwt({ alg: "none" }, { exp: 0, iat: 0 }))).toMatchObject({
      expiresAt: new Date(0),
      issuedAt: new Date(0),
    });
    const noTimes = decodeJwtToken(jwt({ alg: "none" }, { sub: "x" }));
    expect(noTimes).toEqual({ header: { alg: "none" }, claims: { sub: "x" } });
  });

  it("jwtExpiry: an exp whose milliseconds are no finite number is no expiry", () => {
    expect(jwtExpiry(jwt({ alg: "none" }, { exp: 1e308 }))).toBeUndefined();
    expect(jwtExpiry(jwt({ alg: "none" }, { exp: -1e308 }))).toBeUndefined();
    expect(jwtExpiry(jwt({ alg: "none" }, { exp: 1e20 }))).toBe(1e23);
  });

  it("jwtExpiry refuses what jose refuses: a header that is no JSON object, a segment that is no base64url", () => {
    const claims = b64({ exp: 1_900_000_000 });
    expect(jwtExpiry(`${b64({ alg: "none" })}.${claims}.c2ln`)).toBe(1_900_000_000_000);
    for (const header of [[1], "x", 5, null]) {
      const token = `${b64(header)}.${claims}.c2ln`;
      expect(jwtExpiry(token), JSON.stringify(header)).toBeUndefined();
      expect(decodeJwtToken(token)).toBeUndefined();
    }
    // A segment in standard base64 (+ or /) is refused by both.
    const standard = `${b64({ alg: "none" })}.${Buffer.from('{"exp":1900000000,"n":"~~~"}').toString("base64")}.c2ln`;
    expect(standard).toMatch(/[+/]/);
    expect(jwtExpiry(standard)).toBeUndefined();
    expect(decodeJwtToken(standard)).toBeUndefined();
  });

  it("a padded segment is read as jose reads it", () => {
    const padded = Buffer.from('{"exp":1900000000 }').toString("base64");
    expect(padded.endsWith("==")).toBe(true);
    const token = `${b64({ alg: "none" })}.${padded}.c2ln`;
    expect(decodeJwtToken(token)?.expiresAt?.getTime()).toBe(1_900_000_000_000);
    expect(jwtExpiry(token)).toBe(1_900_000_000_000);
  });

  it("not a JWT: undefined, never a throw", () => {
    for (const t of ["opaque", "a.b", "a.b.c.d.e", "!!.??.##", `${b64({ alg: "RS256" })}.${b64([1])}.x`, ""]) {
      expect(decodeJwtToken(t), t).toBeUndefined();
    }
  });
});

describe("decodeZipAuthorities", () => {
  const zip = (text: string) => gzipSync(Buffer.from(text)).toString("base64");

  it("JSON when the content is JSON, else the text", () => {
    expect(decodeZipAuthorities(zip('{"roles":["READ","WRITE"]}'))).toEqual({ roles: ["READ", "WRITE"] });
    expect(decodeZipAuthorities(zip("READ,WRITE"))).toBe("READ,WRITE");
    expect(decodeZipAuthorities(zip(""))).toBe("");
  });

  it("a value that is no base64 gzip is a TypeError saying so, with the cause", () => {
    let e: unknown;
    try {
      decodeZipAuthorities(Buffer.from("plain text").toString("base64"));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(TypeError);
    expect((e as Error).message).toBe("zip_authorities is not base64-encoded gzip");
    expect((e as Error).cause).toBeInstanceOf(Error);
  });
});

describe("G-blocked contracts", () => {
  it("G as a whole token of the status, whatever separates the tokens", () => {
    for (const s of ["G", "Active,G", "A G", "Active;G", "Active|G", "Active/G", " G ", "G, Active", "Active ,  G"]) {
      expect(isGBlockedStatus(s), s).toBe(true);
    }
    for (const s of ["", "Active", "Gold", "AG", "g", "Active,GB", "G-", "Active-G"]) {
      expect(isGBlockedStatus(s), s).toBe(false);
    }
  });

  it("every spelling of the status field; the first one present counts; a list is read as its values", () => {
    for (const key of ["Contract Status", "contractStatus", "contract_status", "ContractStatus", "status"]) {
      expect(flagGBlockedContracts([{ [key]: "Active,G" }])[0], key).toMatchObject({
        gBlocked: true,
        deliverable: false,
      });
      expect(flagGBlockedContracts([{ [key]: "Active" }])[0], key).toMatchObject({
        gBlocked: false,
        deliverable: true,
      });
    }
    expect(flagGBlockedContracts([{ contractStatus: ["Active", "G"] }])[0]?.gBlocked).toBe(true);
    expect(flagGBlockedContracts([{ contractStatus: ["Active"] }])[0]?.gBlocked).toBe(false);
    // The first spelling found decides, even when a later one says otherwise.
    expect(flagGBlockedContracts([{ "Contract Status": "Active", status: "G" }])[0]?.gBlocked).toBe(false);
    expect(flagGBlockedContracts([{ "Contract Status": "G", status: "Active" }])[0]?.gBlocked).toBe(true);
    // A value that is neither text nor a list is no status: the next spelling is read.
    expect(flagGBlockedContracts([{ "Contract Status": 7, status: "G" }])[0]?.gBlocked).toBe(true);
    expect(flagGBlockedContracts([{ id: 1 }])[0]).toEqual({ id: 1, gBlocked: false, deliverable: true });
  });

  it("a blocked contract loses every spelling of its support level; the others keep theirs; the input is not changed", () => {
    const levels = { "Highest Support Level": "a", highestSupportLevel: "b", highest_support_level: "c", hsl: "d" };
    const input = [
      { "Contract Status": "G", id: 1, ...levels },
      { "Contract Status": "Active", id: 2, ...levels },
    ];
    const [blocked, active] = flagGBlockedContracts(input);
    expect(blocked).toEqual({ "Contract Status": "G", id: 1, gBlocked: true, deliverable: false });
    expect(active).toEqual({ "Contract Status": "Active", id: 2, ...levels, gBlocked: false, deliverable: true });
    expect(input[0]).toEqual({ "Contract Status": "G", id: 1, ...levels });
  });
});
