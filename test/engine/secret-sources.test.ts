/**
 * Where a client secret or password comes from — inline, an environment variable, a command's stdout — and what
 * the user is told when it cannot be had: the field and profile named, the fix, never the secret.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HpauthError } from "../../src/engine/errors.js";
import { resolveSecret, SecretRef } from "../../src/engine/secrets.js";

const run = (command: string, options: Partial<Parameters<typeof resolveSecret>[1]> = {}) =>
  resolveSecret(new SecretRef("clientSecret", "command", command), { env: {}, ...options });
const refused = (p: Promise<string>) =>
  p.then(
    (v) => expect.unreachable(`resolved with ${v.length} characters`),
    (e: HpauthError) => e,
  );

describe("SecretRef", () => {
  it("an inline value is held but never shown; env and command name their source", () => {
    const inline = new SecretRef("clientSecret", "inline", "s3cret-inline");
    expect(inline.inlineValue()).toBe("s3cret-inline");
    expect(inline.source).toBeUndefined();
    expect(inline.toJSON()).toEqual({ field: "clientSecret", kind: "inline" });
    expect(JSON.stringify({ inline })).not.toContain("s3cret-inline");
    expect(Object.values(inline)).not.toContain("s3cret-inline");
    const env = new SecretRef("password", "env", "PW");
    expect(env).toMatchObject({ field: "password", kind: "env", source: "PW" });
    expect(env.inlineValue()).toBeUndefined();
    expect(env.toJSON()).toEqual({ field: "password", kind: "env", source: "PW" });
    expect(new SecretRef("clientSecret", "command", "op read x").toJSON()).toEqual({
      field: "clientSecret",
      kind: "command",
      source: "op read x",
    });
  });
});

describe("inline and environment", () => {
  it("an inline value is the secret, an empty one too", async () => {
    expect(await resolveSecret(new SecretRef("password", "inline", "pw"), { env: {} })).toBe("pw");
    expect(await resolveSecret(new SecretRef("password", "inline", ""), { env: {} })).toBe("");
  });

  it("a variable's value, as it is (no trimming)", async () => {
    expect(await resolveSecret(new SecretRef("password", "env", "PW"), { env: { PW: " v \n" } })).toBe(" v \n");
  });

  it("a variable not set or empty: SECRET_UNAVAILABLE naming it, the field and the profile, and the fix", async () => {
    for (const env of [{}, { GL_SECRET: "" }]) {
      const e = await refused(
        resolveSecret(new SecretRef("clientSecret", "env", "GL_SECRET"), { env, profile: "work" }),
      );
      expect(e.code).toBe("SECRET_UNAVAILABLE");
      expect(e.message).toBe(
        'client_secret: environment variable GL_SECRET (named by client_secret_env for profile "work") is not set or empty',
      );
      expect(e.hint).toBe("Export GL_SECRET, or configure client_secret_command instead.");
      expect(e.profile).toBe("work");
    }
    const anon = await refused(resolveSecret(new SecretRef("password", "env", "PW"), { env: {} }));
    expect(anon.message).toBe("password: environment variable PW (named by password_env) is not set or empty");
    expect(anon.hint).toBe("Export PW, or configure password_command instead.");
    expect(anon.profile).toBeUndefined();
  });
});

describe("a command", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hpauth-secret-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("its stdout, without one trailing newline (LF or CRLF)", async () => {
    expect(await run("printf 'abc'")).toBe("abc");
    expect(await run("printf 'abc\\n'")).toBe("abc");
    expect(await run("printf 'abc\\r\\n'")).toBe("abc");
    expect(await run("printf 'abc\\r\\n\\r\\n'")).toBe("abc\r\n");
    expect(await run("printf ' a b \\r'")).toBe(" a b \r");
  });

  it("runs with the environment given, not the process's", async () => {
    expect(await run('printf %s "$GIVEN"', { env: { GIVEN: "from-env" } })).toBe("from-env");
    process.env.HPAUTH_TEST_NOT_GIVEN = "leak";
    try {
      expect(await run('[ -z "$HPAUTH_TEST_NOT_GIVEN" ] && printf absent', { env: {} })).toBe("absent");
    } finally {
      delete process.env.HPAUTH_TEST_NOT_GIVEN;
    }
  });

  it("up to 64 KiB; more is refused, never cut", async () => {
    const exact = await run("head -c 65536 /dev/zero | tr '\\0' x");
    expect(exact).toHaveLength(65536);
    const e = await refused(run("head -c 65537 /dev/zero | tr '\\0' x", { profile: "p" }));
    expect(e.message).toBe('client_secret: client_secret_command for profile "p" printed more than 64 KiB');
  });

  it("nothing printed (or only a newline) is refused", async () => {
    for (const cmd of ["true", "echo"]) {
      const e = await refused(run(cmd));
      expect(e.code).toBe("SECRET_UNAVAILABLE");
      expect(e.message).toBe("client_secret: client_secret_command printed nothing");
      expect(e.hint).toBe("Check that the command in client_secret_command prints the secret on stdout and exits 0.");
    }
  });

  it("a failure says the exit status or the signal, and what stderr said (if anything)", async () => {
    expect((await refused(run("exit 3", { profile: "w" }))).message).toBe(
      'client_secret: client_secret_command for profile "w" failed (exit status 3)',
    );
    expect((await refused(run("echo 'not signed in' >&2; kill -TERM $$"))).message).toBe(
      "client_secret: client_secret_command failed (signal SIGTERM): not signed in",
    );
    const e = await refused(run("echo 'vault sealed' >&2; exit 1", { profile: "w" }));
    expect(e).toMatchObject({ code: "SECRET_UNAVAILABLE", profile: "w" });
    expect(e.message).toBe('client_secret: client_secret_command for profile "w" failed (exit status 1): vault sealed');
  });

  it("what a failing command printed on stdout is masked in its stderr, CRLF lines too", async () => {
    const e = await refused(run("printf 'half-out-value\\r\\n'; echo 'error near half-out-value' >&2; exit 2"));
    expect(e.message).toBe("client_secret: client_secret_command failed (exit status 2): error near [redacted]");
  });

  it("waits for a slow command by default", async () => {
    expect(await run("sleep 0.3; printf ok")).toBe("ok");
  });

  it("a command that does not finish in time is killed, and says so", async () => {
    const marker = join(dir, "finished");
    const e = await refused(run(`sleep 0.6; touch '${marker}'; printf late`, { timeoutMs: 100, profile: "p" }));
    expect(e.code).toBe("SECRET_UNAVAILABLE");
    expect(e.message).toBe('client_secret: client_secret_command for profile "p" did not finish within 100ms');
    await delay(1200);
    expect(existsSync(marker)).toBe(false);
  });

  it("a cancelled caller stops the command: CANCELLED", async () => {
    const c = new AbortController();
    const pending = refused(run("sleep 3; printf late", { signal: c.signal, timeoutMs: 20_000 }));
    await delay(50);
    c.abort();
    const e = await pending;
    expect(e.code).toBe("CANCELLED");
    expect(e.message).toBe("Cancelled while running a secret command.");
    const before = await refused(run("printf x", { signal: AbortSignal.abort() }));
    expect(before.code).toBe("CANCELLED");
  });
});
