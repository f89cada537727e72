import { describe, expect, it } from "vitest";
import { parseForms } from "../../src/cli/commands/demo-browser.js";
import { main, redactUnknown, reportError } from "../../src/cli/main.js";
import { HpauthError } from "../../src/engine/errors.js";
import { capture } from "./helpers.js";

describe("errors are reported once, at the top", () => {
  it.each([
    [new HpauthError("CONFIG_INVALID", "Config file /c.toml: bad"), 2],
    [new HpauthError("INVALID_CLIENT", "Client authentication failed"), 3],
    [
      new HpauthError("LOGIN_BUDGET_EXHAUSTED", "Aruba allows one login per 30 min", {
        retryAt: new Date("2030-01-01T10:30:00Z"),
      }),
      4,
    ],
    [new HpauthError("NETWORK_ERROR", "unreachable"), 5],
    [new HpauthError("CANCELLED", "Cancelled"), 130],
  ])("%s → exit %d", (e, code) => {
    const c = capture();
    expect(reportError(e, c.io, false)).toBe(code);
    expect(c.err()).toContain(e.message);
    expect(c.out()).toBe("");
  });

  it("rate limits say when to retry", () => {
    const c = capture();
    reportError(
      new HpauthError("RATE_LIMITED", "Too many", { retryAt: new Date("2030-01-01T10:30:00Z") }),
      c.io,
      false,
    );
    expect(c.err()).toContain("Retry after 2030-01-01 10:30:00 UTC");
  });

  it("--json puts toJSON() on stdout", () => {
    const c = capture();
    const e = new HpauthError("RATE_LIMITED", "Too many", { retryAt: new Date("2030-01-01T10:30:00Z"), hint: "Wait." });
    reportError(e, c.io, true);
    expect(JSON.parse(c.out())).toEqual({ error: e.toJSON() });
    // RFC 3339 UTC to the second (the --json contract), rounded up: never earlier than the real retry time.
    expect(JSON.parse(c.out()).error.retry_at).toBe("2030-01-01T10:30:00Z");
    const late = new HpauthError("RATE_LIMITED", "Too many", { retryAt: new Date("2030-01-01T10:30:00.200Z") });
    expect(late.toJSON().retry_at).toBe("2030-01-01T10:30:01Z");
  });

  it("unknown errors are exit 1, a bug, without a stack or a secret", () => {
    const c = capture();
    const e = new TypeError("boom while sending access_token=abcdefghijklmnop and Bearer xyz.abc");
    expect(reportError(e, c.io, false)).toBe(1);
    expect(c.err()).toMatch(/This is a bug/);
    expect(c.err()).not.toMatch(/\n\s+at /);
    expect(c.err()).not.toContain("abcdefghijklmnop");
    expect(c.err()).not.toContain("xyz.abc");
  });

  it("an error after abort becomes CANCELLED (130)", () => {
    const c = capture();
    c.controller.abort();
    expect(reportError(new DOMException("aborted", "AbortError"), c.io, false)).toBe(130);
  });

  it("usage errors from argv → exit 2 with a hint", async () => {
    const c = capture();
    expect(await main(["token", "--nope"], c.io)).toBe(2);
    expect(c.err()).toMatch(/unknown option '--nope'/);
    expect(c.err()).toMatch(/--help/);
  });

  it("help → stdout, exit 0; nothing → help on stderr, exit 2", async () => {
    const a = capture();
    expect(await main(["--help"], a.io)).toBe(0);
    expect(a.out()).toMatch(/Usage: hpauth/);
    const b = capture();
    expect(await main([], b.io)).toBe(2);
    expect(b.out()).toBe("");
    expect(b.err()).toMatch(/Usage: hpauth/);
  });
});

describe("redactUnknown (engine redaction + long opaque runs, for errors hpauth did not build)", () => {
  it.each([
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
    "Authorization: Bearer abc.def-ghi",
    '{"refresh_token":"r-123"}',
    "client_secret=s3cr3t&x=1",
    "opaque 0123456789abcdef0123456789abcdef0123",
  ])("masks %s", (s) => {
    const out = redactUnknown(s);
    for (const secret of [
      "eyJzdWIiOiJ4In0",
      "abc.def-ghi",
      "r-123",
      "s3cr3t",
      "0123456789abcdef0123456789abcdef0123",
    ]) {
      expect(out).not.toContain(secret);
    }
  });
  it("leaves ordinary text alone", () => {
    expect(redactUnknown("Profile gl: HTTP 503 from https://sso.example/as/token.oauth2")).toBe(
      "Profile gl: HTTP 503 from https://sso.example/as/token.oauth2",
    );
  });
});

describe("parseForms (demo browser)", () => {
  it("finds fields and buttons", () => {
    const html = `<html><form method="POST" action="/login?txn=a&amp;b=1"><input type="hidden" name="txn" value="t1">
      <input name="username"><input type='password' name='password'><button type="submit" name="action" value="allow">Allow</button>
      <button type="submit" name="action" value="deny">Deny</button></form></html>`;
    const [f] = parseForms(html);
    expect(f).toEqual({
      action: "/login?txn=a&b=1",
      method: "post",
      fields: [
        ["txn", "t1"],
        ["username", ""],
        ["password", ""],
      ],
      buttons: [
        ["action", "allow"],
        ["action", "deny"],
      ],
    });
  });
});
