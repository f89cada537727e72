/**
 * Redis store URLs (src/stores/redis-url.ts), in process: what `hpauth status` shows and what a store connects to.
 * A password in a URL is reported, never returned nor echoed; every refusal is a USAGE error that says the form.
 */
import { describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { parseRedisUrl, redactUrl } from "../../src/stores/redis-url.js";

function refusal(url: string): HpauthError {
  try {
    parseRedisUrl(url);
  } catch (e) {
    expect(e).toBeInstanceOf(HpauthError);
    expect((e as HpauthError).code).toBe("USAGE");
    return e as HpauthError;
  }
  throw new Error(`expected ${url} to be refused`);
}

describe("parseRedisUrl", () => {
  it("reads scheme, host, port, database and user; fills the defaults", () => {
    expect(parseRedisUrl("redis://cache.example:7000/5")).toEqual({
      tls: false,
      host: "cache.example",
      port: 7000,
      db: 5,
      display: "redis://cache.example:7000/5",
      hasPassword: false,
    });
    expect(parseRedisUrl("rediss://ops@cache.example")).toEqual({
      tls: true,
      host: "cache.example",
      port: 6379,
      db: 0,
      username: "ops",
      display: "rediss://ops@cache.example:6379/0",
      hasPassword: false,
    });
    // A trailing slash, or several, is database 0; so is the path "/0".
    expect(parseRedisUrl("redis://h/").db).toBe(0);
    expect(parseRedisUrl("redis://h//2").db).toBe(2);
    expect(parseRedisUrl("redis://h:1/65535").db).toBe(65535);
  });

  it("decodes a user name and shows it encoded again; IPv6 hosts without brackets, displayed with them", () => {
    const p = parseRedisUrl("redis://team%40ops@[::1]:6380/1");
    expect(p.username).toBe("team@ops");
    expect(p.host).toBe("::1");
    expect(p.display).toBe("redis://team%40ops@[::1]:6380/1");
    expect("username" in parseRedisUrl("redis://h")).toBe(false);
  });

  it("reports a password without returning or displaying it", () => {
    const p = parseRedisUrl("redis://ops:hunter2-secret@h:1/0");
    expect(p.hasPassword).toBe(true);
    expect(p.display).toBe("redis://ops@h:1/0");
    expect(JSON.stringify(p)).not.toContain("hunter2");
    const noUser = parseRedisUrl("redis://:hunter2-secret@h");
    expect(noUser.hasPassword).toBe(true);
    expect(noUser.display).toBe("redis://h:6379/0");
  });

  it("refuses what is not a URL, naming the form and never echoing a password", () => {
    const e = refusal("redis://ops:hunter2-secret@[not a host");
    expect(e.message).toBe('Not a Redis URL: "redis://ops:***@[not a host"');
    expect(e.hint).toBe("Use redis://[user@]host[:port][/db] or rediss://… for TLS.");
  });

  it("refuses other schemes, a missing host, a database that is not a number in range, a query or fragment", () => {
    expect(refusal("http://h:6379").message).toBe("Not a Redis URL (scheme http:): use redis:// or rediss://");
    expect(refusal("valkey://h").message).toMatch(/scheme valkey:/);
    expect(refusal("redis://").message).toBe("The Redis URL has no host: redis://host[:port][/db]");
    for (const db of ["abc", "1.5", "-1", "65536", "1e9"]) {
      expect(refusal(`redis://h/${db}`).message).toBe(
        `The Redis URL's database must be a number (redis://host:port/0), not "${db}"`,
      );
    }
    const tail = "The Redis URL takes no query or fragment; TLS and prefix are separate options.";
    expect(refusal("redis://h/0?tls=1").message).toBe(tail);
    expect(refusal("redis://h/0#x").message).toBe(tail);
  });
});

describe("redactUrl", () => {
  it("masks the password of any scheme's URL, with or without a user, and leaves the rest alone", () => {
    expect(redactUrl("redis://ops:pw@h:1/0")).toBe("redis://ops:***@h:1/0");
    expect(redactUrl("rediss://:pw@h")).toBe("rediss://:***@h");
    expect(redactUrl("REDIS+X.y-z://u:p%40ss@h")).toBe("REDIS+X.y-z://u:***@h");
    expect(redactUrl("redis://ops@h:1/0")).toBe("redis://ops@h:1/0");
    expect(redactUrl("redis://h:6379/0")).toBe("redis://h:6379/0");
    // A colon after the host is a port, not a password.
    expect(redactUrl("redis://h:6379/a@b")).toBe("redis://h:6379/a@b");
    expect(redactUrl("not a url: a:b@c")).toBe("not a url: a:b@c");
  });
});
