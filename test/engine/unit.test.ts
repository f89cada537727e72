/** Pure parts: redaction, profile validation (each bad field named), secrets, inspect helpers. */
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { formatDuration } from "../../src/engine/duration.js";
import { describeBody, parseRetryAfter } from "../../src/engine/http.js";
import { decodeJwtToken, decodeZipAuthorities, flagGBlockedContracts } from "../../src/engine/inspect.js";
import { credentialKey, providerFields, validateProfile } from "../../src/engine/profile.js";
import { basicEncodingNote } from "../../src/engine/providers/oauth2-flow.js";
import { bodyExcerpt, redact } from "../../src/engine/redact.js";
import { resolveSecret, SecretRef } from "../../src/engine/secrets.js";
import type { NamedProfile } from "../../src/engine/types.js";

const JWT =
  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4IiwiZXhwIjoxOTAwMDAwMDAwLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLXBhcnQ";

describe("redact", () => {
  it.each([
    ["known secret", "secret is hunter2-long here", ["hunter2-long"], "hunter2-long"],
    ["form-encoded known secret", "p=a%20b%26c", ["a b&c"], "a%20b%26c"],
    ["JWT", `Access token expired: ${JWT}`, [], JWT],
    ["bearer header", "Authorization: Bearer abcdef123456", [], "abcdef123456"],
    ["basic header", "Authorization: Basic Y2xpZW50OnNlY3JldA==", [], "Y2xpZW50OnNlY3JldA=="],
    ["query param", "POST /oauth2/token?client_secret=s3cr3tvalue&grant_type=x", [], "s3cr3tvalue"],
    ["json refresh token", '{"refresh_token":"rt-123456","x":1}', [], "rt-123456"],
    ["json access token", '{"access_token": "at-abcdef"}', [], "at-abcdef"],
    ["cookie", "Set-Cookie: session=sess-value-1; Path=/", [], "sess-value-1"],
    ["csrf header", "X-CSRF-Token: csrf-value-9", [], "csrf-value-9"],
  ])("%s", (_n, text, known, secret) => {
    const out = redact(text, known);
    expect(out).not.toContain(secret);
    expect(out).toContain("[redacted]");
  });

  // Values are redacted, never structure: brackets, quotes and separators around a secret survive.
  it.each([
    ["parentheses", "token request failed (code=abc123XYZ)", "token request failed (code=[redacted])", "abc123XYZ"],
    [
      "brackets and commas",
      "[client_secret=s3cr3tvalue, password=hunter2hunter2]",
      "[client_secret=[redacted], password=[redacted]]",
      "hunter2",
    ],
    ["quotes", `callback 'code=c0de-value' rejected`, `callback 'code=[redacted]' rejected`, "c0de-value"],
    [
      "URL query",
      "GET https://h.example/cb?code=Zx81-q_9&state=st4te) failed",
      "GET https://h.example/cb?code=[redacted]&state=st4te) failed",
      "Zx81-q_9",
    ],
    [
      "URL userinfo",
      "proxy https://bob:pa55word@proxy.example:8080/ refused",
      "proxy https://bob:[redacted]@proxy.example:8080/ refused",
      "pa55word",
    ],
    [
      "JSON",
      '{"access_token":"at-abcdef","expires_in":3600,"note":"(x)"}',
      '{"access_token":"[redacted]","expires_in":3600,"note":"(x)"}',
      "at-abcdef",
    ],
    [
      "JSON quoted inside JSON",
      'body: "{\\"refresh_token\\":\\"rt-secret-1\\"}"',
      'body: "{\\"refresh_token\\":\\"[redacted]\\"}"',
      "rt-secret-1",
    ],
    ["JSON-escaped known secret", 'said "p\\"w0rd!"', 'said "[redacted]"', 'p\\"w0rd'],
    [
      "cookie in parentheses",
      "(Set-Cookie: sid=abcdef123; Path=/)",
      "(Set-Cookie: sid=[redacted]; Path=/)",
      "abcdef123",
    ],
  ])("keeps the structure around a secret: %s", (_n, text, expected, secret) => {
    const out = redact(text, ['p"w0rd!']);
    expect(out).toBe(expected);
    expect(out).not.toContain(secret);
  });

  it("keeps error codes and placeholders, which are not secrets", () => {
    expect(redact("connect failed (code=ECONNREFUSED)")).toBe("connect failed (code=ECONNREFUSED)");
    expect(redact('{"code":"UND_ERR_CONNECT_TIMEOUT"}')).toBe('{"code":"UND_ERR_CONNECT_TIMEOUT"}');
    const hint = 'Give the JSON, or {"access_token": "…", "refresh_token": "…"}; e.g. code=<code> or password=...';
    expect(redact(hint)).toBe(hint);
    // A real authorization code of upper-case letters is long enough not to pass for an error code.
    expect(redact("code=QWERTYUIOPASDFGHJKLZXCVBNMQWE")).toBe("code=[redacted]");
    // Redacting twice changes nothing.
    const once = redact("(code=abc123XYZ) Bearer abcdefghij");
    expect(redact(once)).toBe(once);
  });

  it("keeps harmless text", () => {
    expect(redact('{"error":"invalid_grant","error_description":"Invalid refresh_token"}')).toContain("invalid_grant");
  });

  // The edges of each rule (found by mutation testing, docs/mutation.md): a rule one character too loose leaks.
  it("masks values from 4 characters on; shorter ones are not worth shredding the message for", () => {
    expect(redact("code=abc password=abcd")).toBe("code=abc password=[redacted]");
    expect(redact("abc wxyz", ["abc", "wxyz", undefined, ""])).toBe("abc [redacted]");
  });

  it("a placeholder is only a placeholder as a whole: dots, an ellipsis or <name>, nothing around them", () => {
    expect(redact("token=..... password=…… ")).toBe("token=..... password=…… ");
    expect(redact("token=abcd... password=...abcd")).toBe("token=[redacted] password=[redacted]");
    expect(redact('{"access_token": "<token>", "refresh_token": "<>"}')).toBe(
      '{"access_token": "<token>", "refresh_token": "<>"}',
    );
    expect(redact('{"access_token": "abcd<x>", "refresh_token": "<x>abcd"}')).toBe(
      '{"access_token": "[redacted]", "refresh_token": "[redacted]"}',
    );
  });

  it("only `code` may hold an error code: an upper-case password is a password", () => {
    expect(redact("password=HUNTER_TWO token=NOT_A_CODE")).toBe("password=[redacted] token=[redacted]");
    expect(redact('{"session": "ABC_DEF"}')).toBe('{"session": "[redacted]"}');
  });

  it("masks every occurrence of a known secret, longest first, and its encoded forms", () => {
    expect(redact("s3cr3t-value then s3cr3t-value", ["s3cr3t-value"])).toBe("[redacted] then [redacted]");
    // "abcd" is inside "abcdefgh": masking the short one first would leave "efgh" of the long one.
    expect(redact("abcdefgh and abcd", ["abcd", "abcdefgh"])).toBe("[redacted] and [redacted]");
    expect(redact("x=p%20w%2Fd! y=p%20w%2Fd!", ["p w/d!"])).toBe("x=[redacted] y=[redacted]");
  });
});

describe("bodyExcerpt", () => {
  it("one line, whitespace runs collapsed and trimmed", () => {
    expect(bodyExcerpt("\n  <h1>Bad\t\t gateway</h1>\n")).toBe("<h1>Bad gateway</h1>");
  });

  it("redacts, then cuts at `max` characters with an ellipsis (a body of exactly `max` is whole)", () => {
    expect(bodyExcerpt('{"error":"x","access_token":"abcdef"}', [], 100)).toBe(
      '{"error":"x","access_token":"[redacted]"}',
    );
    expect(bodyExcerpt("0123456789", [], 10)).toBe("0123456789");
    expect(bodyExcerpt("0123456789A", [], 10)).toBe("0123456789…");
    expect(bodyExcerpt("secret-value here", ["secret-value"], 300)).toBe("[redacted] here");
  });
});

const base: NamedProfile = { name: "p", provider: "greenlake", clientId: "id", clientSecret: "s", region: "eu1" };

describe("validateProfile", () => {
  it.each<[string, Partial<NamedProfile>, string]>([
    ["missing provider", { provider: undefined }, "provider"],
    ["unknown provider", { provider: "nope" as never }, "provider"],
    ["missing client id", { clientId: undefined }, "client_id"],
    ["missing secret", { clientSecret: undefined }, "client_secret"],
    ["two secret sources", { clientSecretEnv: "X" }, "client_secret"],
    ["bad env var name", { clientSecret: undefined, clientSecretEnv: "1-bad" }, "client_secret_env"],
    ["bad region", { region: "mars1" }, "region"],
    ["bad base URL", { baseUrl: "not a url" }, "base_url"],
    ["plain http off loopback", { baseUrl: "http://example.com" }, "base_url"],
    ["credentials in URL", { baseUrl: "https://u:p@example.com" }, "base_url"],
    ["bad apiBaseUrl", { apiBaseUrl: "ftp://x" }, "api_base_url"],
    ["bad clientAuth", { clientAuth: "magic" as never }, "client_auth"],
    ["oauth2-only field", { tokenUrl: "https://x/token" }, "token_url"],
    ["bad date", { clientSecretCreatedAt: "yesterday" }, "client_secret_created_at"],
    ["bad port", { callbackPort: 70000 }, "callback_port"],
    ["protocol param override", { tokenParams: { grant_type: "x" } }, "token_params.grant_type"],
  ])("%s → names %s", (_n, patch, field) => {
    let err: unknown;
    try {
      validateProfile({ ...base, ...patch } as NamedProfile);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: "CONFIG_INVALID" });
    // Named as the user writes them (config-file keys), not as TypeScript properties.
    expect((err as Error).message).toContain(`${field}:`);
    expect((err as Error).message).not.toMatch(
      /\b(clientId|clientSecret\w*|baseUrl|apiBaseUrl|tokenUrl|clientAuth|callbackPort)\b/,
    );
  });

  it("reports every problem at once", () => {
    const e = (() => {
      try {
        validateProfile({ name: "x", provider: "aruba-central", region: "nowhere", clientAuth: "x" as never });
      } catch (err) {
        return err as Error;
      }
    })();
    for (const f of ["region:", "client_id:", "client_secret:", "client_auth:"]) expect(e?.message).toContain(f);
  });

  it("resolves regions case-insensitively and endpoints per provider", () => {
    const a = validateProfile({
      name: "a",
      provider: "aruba-central",
      region: "eu-central2",
      clientId: "c",
      clientSecret: "s",
    });
    expect(a.region).toBe("EU-Central2");
    expect(a.tokenUrl).toBe("https://apigw-eucentral2.central.arubanetworks.com/oauth2/token");
    const t = validateProfile({ name: "t", provider: "techpulse", region: "EU", clientId: "c", clientSecret: "s" });
    expect(t.tokenUrl).toBe("https://eu.daas.api.hp.com/oauth/v1/token");
    const g = validateProfile(base);
    expect(g.tokenUrl).toBe("https://sso.common.cloud.hpe.com/as/token.oauth2");
    expect(g.apiBaseUrl).toBe("https://eu1.data.cloud.hpe.com");
    const go = validateProfile({ ...base, baseUrl: "http://127.0.0.1:9999" });
    expect(go.apiBaseUrl).toBe("http://127.0.0.1:9999");
    const w = validateProfile({ name: "w", provider: "wxp", username: "u", password: "p" });
    expect(w.tokenUrl).toBe("https://login.wxpcollaboration.hp.com/auth/login");
    expect(w.clientId).toBe("WXP Collaboration");
    const i = validateProfile({
      name: "i",
      provider: "hpe-identity",
      baseUrl: "https://api-gw.support.hpe.com/apigwext",
      clientId: "c",
      clientSecret: "s",
    });
    expect(i.tokenUrl).toBe("https://api-gw.support.hpe.com/apigwext/services/oauth/token");
  });

  it("hpe-identity without baseUrl mentions the production gateway", () => {
    expect(() => validateProfile({ name: "i", provider: "hpe-identity", clientId: "c", clientSecret: "s" })).toThrow(
      /base_url:.*https:\/\/api-gw\.support\.hpe\.com\/apigwext/,
    );
  });

  it("oauth2: grant-specific requirements", () => {
    expect(() => validateProfile({ name: "o", provider: "oauth2", clientId: "c", clientSecret: "s" })).toThrow(
      /token_url:/,
    );
    expect(() =>
      validateProfile({
        name: "o",
        provider: "oauth2",
        clientId: "c",
        tokenUrl: "https://x/t",
        grantType: "password",
        clientSecret: "s",
      }),
    ).toThrow(/username:[\s\S]*password:/);
  });

  it("never serialises an inline secret", () => {
    const p = validateProfile(base);
    expect(JSON.stringify(p)).not.toContain('"s"');
  });

  it("credential key is stable and differs per user", () => {
    const a = validateProfile({ name: "a", provider: "wxp", username: "u1", password: "p" });
    const b = validateProfile({ name: "b", provider: "wxp", username: "u1", password: "other" });
    const c = validateProfile({ name: "c", provider: "wxp", username: "u2", password: "p" });
    expect(credentialKey(a)).toBe(credentialKey(b));
    expect(credentialKey(a)).not.toBe(credentialKey(c));
    expect(credentialKey(a)).toMatch(/^[a-z0-9-]+$/);
  });

  it("providerFields lists required and secret fields", () => {
    const f = providerFields("aruba-central");
    expect(f.find((x) => x.name === "clientSecret")).toMatchObject({ required: true, secret: true });
    expect(f.some((x) => x.name === "clientSecretCommand")).toBe(true);
  });
});

describe("secrets", () => {
  it("env and command (one trailing newline trimmed), failures name the field and never echo stdout", async () => {
    expect(await resolveSecret(new SecretRef("password", "env", "PW"), { env: { PW: "x1" } })).toBe("x1");
    expect(await resolveSecret(new SecretRef("password", "command", "printf 'abc\\n\\n'"), { env: {} })).toBe("abc\n");
    const e = await resolveSecret(new SecretRef("clientSecret", "command", "echo leaked-value; exit 3"), {
      env: {},
    }).catch((x) => x);
    expect(e.code).toBe("SECRET_UNAVAILABLE");
    expect(e.message).toContain("client_secret_command");
    expect(e.message).not.toContain("leaked-value");
    const t = await resolveSecret(new SecretRef("password", "command", "sleep 5"), { env: {}, timeoutMs: 100 }).catch(
      (x) => x,
    );
    expect(t.code).toBe("SECRET_UNAVAILABLE");
    const m = await resolveSecret(new SecretRef("password", "env", "NOPE"), { env: {} }).catch((x) => x);
    expect(m.message).toContain("NOPE");
  });
});

describe("a failing secret command", () => {
  const fail = (cmd: string) =>
    resolveSecret(new SecretRef("password", "command", cmd), { env: {} }).then(
      () => expect.unreachable(),
      (x: Error & { code: string }) => x,
    );

  it("shows what the command said on stderr", async () => {
    const e = await fail("echo 'op: you are not signed in (run: op signin)' >&2; exit 1");
    expect(e.code).toBe("SECRET_UNAVAILABLE");
    expect(e.message).toContain("password_command failed (exit status 1): op: you are not signed in (run: op signin)");
  });

  it("redacts that stderr: what it printed on stdout, and credential shapes", async () => {
    const e = await fail("echo half-printed-secret; echo 'bad: half-printed-secret password=hunter2x' >&2; exit 4");
    expect(e.message).toContain("bad: [redacted] password=[redacted]");
    expect(e.message).not.toContain("half-printed-secret");
    expect(e.message).not.toContain("hunter2x");
  });

  it("bounds it", async () => {
    const e = await fail("head -c 200000 /dev/zero | tr '\\0' x >&2; exit 1");
    expect(e.message.length).toBeLessThan(500);
    expect(e.message).toMatch(/x…$/);
  });
});

describe("inspect", () => {
  it("decodes JWTs, zip_authorities, and flags G-blocked contracts", () => {
    expect(decodeJwtToken(JWT)?.expiresAt?.getTime()).toBe(1_900_000_000_000);
    expect(decodeJwtToken("opaque")).toBeUndefined();
    const z = gzipSync(Buffer.from(JSON.stringify([{ authority: "READ" }]))).toString("base64");
    expect(decodeZipAuthorities(z)).toEqual([{ authority: "READ" }]);
    expect(() => decodeZipAuthorities("!!!")).toThrow(TypeError);
    const out = flagGBlockedContracts([
      { "Contract Status": "Active,G", "Highest Support Level": "24x7" },
      { "Contract Status": "Active", "Highest Support Level": "9x5" },
    ]);
    expect(out[0]).toMatchObject({ deliverable: false, gBlocked: true });
    expect(out[0]).not.toHaveProperty("Highest Support Level");
    expect(out[1]).toMatchObject({ deliverable: true, "Highest Support Level": "9x5" });
  });

  it("parses Retry-After as seconds or a date", () => {
    expect(parseRetryAfter("5", 0)).toBe(5);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });

  it("parses every Retry-After form of RFC 9110 §10.2.3 and refuses what is neither", () => {
    const now = Date.UTC(1994, 10, 6, 8, 49, 0);
    // IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept (RFC 9110 §5.6.7).
    expect(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now)).toBe(37);
    expect(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now)).toBe(37);
    expect(parseRetryAfter("Sun Nov  6 08:49:37 1994", now)).toBe(37);
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    // A date in the past means "now".
    expect(parseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", now)).toBe(0);
    for (const bad of ["-5", "+5", "soon", "", "1e3", "5 s"]) expect(parseRetryAfter(bad, now)).toBeUndefined();
  });

  it("a fractional delay is read as given", () => {
    expect(parseRetryAfter("1.25", 0)).toBe(1.25);
    expect(parseRetryAfter("0.5", 0)).toBe(0.5);
  });
});

describe("messages", () => {
  it("one duration format", () => {
    expect([0.25, 0, 1.5, 2.04, 15, 60, 150, 3600, 3900, 86400 + 7200].map(formatDuration)).toEqual([
      "250ms",
      "0s",
      "1.5s",
      "2s",
      "15s",
      "1m",
      "2m 30s",
      "1h",
      "1h 5m",
      "1d 2h",
    ]);
  });

  it("an HTML page is summarised by its title, never inlined", () => {
    const page =
      "<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>503</h1><script>x()</script></body></html>";
    expect(describeBody(page, [])).toBe('an HTML page titled "503 Service Temporarily Unavailable"');
    expect(describeBody("<html><body>no title</body></html>", [])).toBe("an HTML page");
    // A title is server text like any other: redacted.
    expect(describeBody("<html><head><title>token s3cr3t-value</title></head></html>", ["s3cr3t-value"])).toBe(
      'an HTML page titled "token [redacted]"',
    );
    expect(describeBody('{"error":"server_error"}', [])).toBe('{"error":"server_error"}');
  });

  it("what counts as HTML: a page starts with a tag (after whitespace); a tag inside other text does not make it one", () => {
    for (const page of [
      "\n  <html><body>x</body></html>",
      "<div>oops</div>",
      "<p>Bad gateway</p>",
      '<p class="e">Bad</p>',
    ]) {
      expect(describeBody(page, [])).toBe("an HTML page");
    }
    expect(describeBody('{"error":"<b>bad</b> request"}', [])).toBe('{"error":"<b>bad</b> request"}');
    expect(describeBody("error: <b>bad</b>", [])).toBe("error: <b>bad</b>");
  });

  it("an HTML title with attributes or markup inside is read as its text", () => {
    expect(describeBody('<html><title lang="en">Gateway <span class="x">Timeout</span></title></html>', [])).toBe(
      'an HTML page titled "Gateway Timeout"',
    );
  });

  it("client_secret_basic: names the id's characters the form-encoding changes, never the secret's", () => {
    expect(basicEncodingNote("plainid", "plainsecret")).toBeUndefined();
    const id = basicEncodingNote("my-app.v2", "plainsecret") ?? "";
    expect(id).toContain('the client id contains "-" "."');
    expect(id).toContain('client_auth = "client_secret_post"');
    const secret = basicEncodingNote("plainid", "s~e/c:r") ?? "";
    expect(secret).toContain("the client secret contains characters");
    expect(secret).not.toMatch(/[~/:]"/);
  });
});
