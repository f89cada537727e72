/**
 * `hpauth logout` in-process against the emulator: says truthfully whether anything was deleted, and guards an
 * Aruba Central refresh token (its loss costs a new login, one per 30 minutes) behind --yes / a typed "y".
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { arubaFlags, capture } from "./helpers.js";

type Creds = Record<string, string> & { baseUrl: string };

describe("logout", () => {
  let emu: { providers: Record<string, Creds>; adminUrl: string; close(): Promise<void> };
  let dir: string;

  beforeAll(async () => {
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as never;
    dir = await mkdtemp(join(tmpdir(), "hpauth-logout-"));
  });
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function run(args: string[], env: Record<string, string>, stdin?: string, tty = false) {
    const c = capture(env, stdin, tty);
    const code = await main(args, c.io);
    return { code, out: c.out(), err: c.err() };
  }
  const gl = (store: string) => {
    const p = emu.providers.greenlake!;
    return {
      flags: [
        "--provider",
        "greenlake",
        "--base-url",
        p.baseUrl,
        "--client-id",
        p.clientId!,
        "--client-secret-env",
        "GL_SECRET",
        "--store-dir",
        store,
      ],
      env: { GL_SECRET: p.clientSecret! },
    };
  };

  it("says when there was nothing to delete, and when there was", async () => {
    const { flags, env } = gl(join(dir, "gl"));
    const none = await run(["logout", ...flags], env);
    expect(none.code, none.err).toBe(0);
    expect(none.err).toMatch(/Nothing to delete: no stored tokens for profile/);
    expect(none.err).not.toMatch(/deleted\)/);
    expect(JSON.parse((await run(["logout", "--json", ...flags], env)).out)).toEqual({
      profile: "greenlake",
      deleted: false,
    });
    expect((await run(["token", ...flags], env)).code).toBe(0);
    const some = await run(["logout", "--json", ...flags], env);
    expect(JSON.parse(some.out)).toEqual({ profile: "greenlake", deleted: true });
    expect(JSON.parse((await run(["logout", "--json", ...flags], env)).out).deleted).toBe(false);
    const all = await run(["logout", "--all", "--store-dir", join(dir, "gl")], {});
    expect(all.err).toMatch(/Nothing to delete: no stored credentials/);
  });

  it("an Aruba Central refresh token is deleted only with --yes or a typed y; the login budget record stays", async () => {
    const p = emu.providers["aruba-central"]!;
    const store = join(dir, "aruba");
    const { env } = arubaFlags(p);
    const aruba = [...arubaFlags(p).flags, "--store-dir", store];
    const hasRefreshToken = async () =>
      JSON.parse((await run(["status", "--json", ...aruba], env)).out).profiles[0].has_refresh_token;
    expect((await run(["token", ...aruba], env)).code).toBe(0);
    const glStore = gl(store);
    expect((await run(["token", ...glStore.flags], glStore.env)).code).toBe(0);

    // Not a terminal: refused, naming the flag; nothing deleted.
    const refused = await run(["logout", ...aruba], env);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/Refusing to log out of profile "aruba-central" without --yes/);
    expect(refused.err).toMatch(/one login per client id per 30 minutes/);
    expect(refused.err).toMatch(/--force/);
    expect(await hasRefreshToken()).toBe(true);
    const json = await run(["logout", "--json", ...aruba], env, undefined, true);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.out).error).toMatchObject({ code: "USAGE" });
    // --all is guarded the same way, and deletes nothing when refused.
    const all = await run(["logout", "--all", "--store-dir", store], {});
    expect(all.code).toBe(2);
    expect(all.err).toMatch(/without --yes/);
    expect((await run(["token", "--json", ...glStore.flags], glStore.env)).out).toMatch(/"source":"cache"/);

    // A terminal: a warning and a question; "n" keeps it (exit 130), "y" deletes it.
    const no = await run(["logout", ...aruba], env, "n\n", true);
    expect(no.code).toBe(130);
    expect(no.err).toMatch(/Warning: this deletes its refresh token/);
    expect(no.err).toMatch(/anyway\? \[y\/N\]/);
    expect(no.err).toMatch(/nothing was deleted/);
    expect(await hasRefreshToken()).toBe(true);
    const yes = await run(["logout", ...aruba], env, "y\n", true);
    expect(yes.code, yes.err).toBe(0);
    expect(yes.err).toMatch(/Logged out of profile "aruba-central"/);
    expect(await hasRefreshToken()).toBe(false);

    // --yes / --force skip the question; the budget record (the next allowed login) survives --all.
    expect((await run(["logout", "--all", "--force", "--store-dir", store], {})).code).toBe(0);
    const status = JSON.parse((await run(["status", "--json", ...aruba], env)).out).profiles[0];
    expect(Date.parse(status.next_login_allowed_at)).toBeGreaterThan(Date.now() + 25 * 60_000);
    const again = await run(["token", ...aruba], env);
    expect(again.code).toBe(4);
  });
});
