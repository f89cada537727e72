/**
 * Commands run in-process (main() with captured IO) against the real emulator over loopback, with a real file
 * store in a temp dir and real config files.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { admin, arubaFlags, capture } from "./helpers.js";

type Creds = Record<string, string> & { baseUrl: string };
interface Emu {
  providers: Record<string, Creds>;
  adminUrl: string;
  close(): Promise<void>;
}

describe("commands in-process against the emulator", () => {
  let emu: Emu;
  let dir: string;
  let n = 0;
  const storeDir = () => join(dir, "store");

  beforeAll(async () => {
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as unknown as Emu;
    dir = await mkdtemp(join(tmpdir(), "hpauth-cli-"));
  });
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await admin(emu.adminUrl, "/faults", undefined, "DELETE");
  });

  const secretsOf = () =>
    Object.values(emu.providers).flatMap((p) => [p.clientSecret, p.password].filter((s): s is string => !!s));

  /** Runs hpauth with the greenlake profile given as flags, the secret in an env var (never argv). */
  async function gl(args: string[], env: Record<string, string> = {}, store = storeDir()) {
    const p = emu.providers.greenlake!;
    const c = capture({ GL_SECRET: p.clientSecret!, ...env });
    const code = await main(
      [
        ...args,
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
      c.io,
    );
    return { code, out: c.out(), err: c.err() };
  }

  function noSecrets(text: string) {
    for (const s of secretsOf()) expect(text).not.toContain(s);
  }

  it("token: stdout holds the token and a newline, nothing else", async () => {
    const r = await gl(["token"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^[A-Za-z0-9._~+/=-]{20,}\n$/);
    expect(r.err).toBe("");
    noSecrets(r.out + r.err);
  });

  it("token --json: the documented shape, served from the store the second time", async () => {
    const r = await gl(["token", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j).sort()).toEqual(
      expect.arrayContaining([
        "access_token",
        "token_type",
        "expires_at",
        "expires_in",
        "profile",
        "provider",
        "source",
      ]),
    );
    expect(j.token_type).toBe("Bearer");
    expect(j.provider).toBe("greenlake");
    expect(j.source).toBe("cache");
    expect(j.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(j.expires_in).toBeGreaterThan(60);
  });

  it("--force-refresh gets a new token", async () => {
    const a = JSON.parse((await gl(["token", "--json"])).out);
    const b = JSON.parse((await gl(["token", "--json", "--force-refresh"])).out);
    expect(b.source).not.toBe("cache");
    expect(b.access_token).not.toBe(a.access_token);
  });

  it("header prints an Authorization line", async () => {
    const t = (await gl(["token"])).out.trim();
    const r = await gl(["header"]);
    expect(r.out).toBe(`Authorization: Bearer ${t}\n`);
    const j = JSON.parse((await gl(["header", "--json"])).out);
    expect(j.value).toBe(`Bearer ${t}`);
  });

  it("status --json shows the stored token without network", async () => {
    await gl(["token"]);
    const before = (await admin(emu.adminUrl, "/counters")) as Record<string, { tokenRequests: number }>;
    const r = await gl(["status", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    const row = j.profiles.find((p: { provider: string }) => p.provider === "greenlake");
    expect(row.state).toBe("valid");
    expect(row.expires_in).toBeGreaterThan(0);
    const after = (await admin(emu.adminUrl, "/counters")) as Record<string, { tokenRequests: number }>;
    expect(after.greenlake!.tokenRequests).toBe(before.greenlake!.tokenRequests);
    const human = await gl(["status"]);
    expect(human.out).toMatch(/PROFILE\s+PROVIDER\s+TOKEN/);
    expect(human.out).toMatch(/greenlake/);
  });

  it("inspect decodes claims and never prints the token", async () => {
    const token = (await gl(["token"])).out.trim();
    const r = await gl(["inspect", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.format).toBe("jwt");
    expect(j.header.alg).toBe("RS256");
    expect(j.claims.client_id).toBe(emu.providers.greenlake!.clientId);
    expect(r.out).not.toContain(token);
    expect(r.out).not.toContain(token.split(".")[2]);
    const human = await gl(["inspect"]);
    expect(human.out).toMatch(/Claims:/);
    expect(human.out).not.toContain(token);
  });

  it("inspect --token - reads stdin", async () => {
    const token = (await gl(["token"])).out.trim();
    const c = capture({}, `${token}\n`);
    expect(await main(["inspect", "--token", "-", "--json"], c.io)).toBe(0);
    expect(JSON.parse(c.out()).claims.aud).toBeDefined();
    expect(c.out()).not.toContain(token);
  });

  it("inspect decodes HPE Identity zip_authorities", async () => {
    const p = emu.providers["hpe-identity"]!;
    const c = capture({ ID_SECRET: p.clientSecret! });
    const code = await main(
      [
        "inspect",
        "--json",
        "--provider",
        "hpe-identity",
        "--base-url",
        p.baseUrl,
        "--client-id",
        p.clientId!,
        "--client-secret-env",
        "ID_SECRET",
        "--store-dir",
        storeDir(),
      ],
      c.io,
    );
    expect(code, c.err()).toBe(0);
    const j = JSON.parse(c.out());
    expect(j.zip_authorities).toBeDefined();
    expect(typeof j.zip_authorities === "object" || typeof j.zip_authorities === "string").toBe(true);
  });

  it("logout deletes the stored token", async () => {
    const store = join(dir, `logout-${n++}`);
    await gl(["token"], {}, store);
    expect((await gl(["logout"], {}, store)).code).toBe(0);
    const j = JSON.parse((await gl(["status", "--json"], {}, store)).out);
    expect(j.profiles[0].state).not.toBe("valid");
    const again = JSON.parse((await gl(["token", "--json"], {}, store)).out);
    expect(again.source).toBe("login");
  });

  it("profiles add / list / show / remove with a config file", async () => {
    const cfg = join(dir, `cfg-${n++}`, "config.toml");
    const p = emu.providers.greenlake!;
    const add = capture({});
    expect(
      await main(
        [
          "profiles",
          "add",
          "gl",
          "--config",
          cfg,
          "--provider",
          "greenlake",
          "--base-url",
          p.baseUrl,
          "--client-id",
          p.clientId!,
          "--client-secret-env",
          "GL_SECRET",
        ],
        add.io,
      ),
      add.err(),
    ).toBe(0);
    const text = await readFile(cfg, "utf8");
    expect(text).toMatch(/\[profiles\.gl\]/);
    expect(text).toMatch(/client_secret_env = "GL_SECRET"/);

    const tok = capture({ GL_SECRET: p.clientSecret! });
    expect(await main(["token", "--config", cfg, "--store-dir", storeDir()], tok.io), tok.err()).toBe(0);
    expect(tok.out()).toMatch(/^\S+\n$/);

    const list = capture({});
    await main(["profiles", "list", "--json", "--config", cfg], list.io);
    expect(JSON.parse(list.out()).profiles).toEqual([
      expect.objectContaining({ name: "gl", provider: "greenlake", default: true }),
    ]);

    await writeFile(cfg, `${text}\n[profiles.inline]\nprovider = "wxp"\nusername = "u"\npassword = "hunter2-secret"\n`);
    const show = capture({});
    await main(["profiles", "show", "inline", "--config", cfg], show.io);
    expect(show.out()).toContain("********");
    expect(show.out()).not.toContain("hunter2-secret");

    const rmc = capture({});
    expect(await main(["profiles", "remove", "inline", "--config", cfg, "--store-dir", storeDir()], rmc.io)).toBe(0);
    expect(await readFile(cfg, "utf8")).not.toContain("inline");
  });

  it("profiles add refuses a provider without its required fields (exit 2)", async () => {
    const c = capture({});
    const code = await main(
      ["profiles", "add", "a", "--config", join(dir, "x.toml"), "--provider", "aruba-central", "--client-id", "x"],
      c.io,
    );
    expect(code).toBe(2);
    // The engine's verdict (validateProfile), with the flags that would fix it; nothing written.
    expect(c.err()).toMatch(/client_secret: required/);
    expect(c.err()).toMatch(/--client-secret-env/);
    await expect(readFile(join(dir, "x.toml"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("bad config → exit 2 naming the file and the field", async () => {
    const cfg = join(dir, "bad.toml");
    await writeFile(cfg, '[profiles.a]\nprovider = "greenlak"\n');
    const c = capture({});
    expect(await main(["token", "--config", cfg], c.io)).toBe(2);
    expect(c.err()).toContain(cfg);
    expect(c.err()).toMatch(/profile "a": field "provider"/);
    expect(c.out()).toBe("");
  });

  it("--json errors go to stdout as JSON", async () => {
    const c = capture({});
    expect(await main(["token", "--json", "--config", join(dir, "missing.toml")], c.io)).toBe(2);
    expect(JSON.parse(c.out()).error).toMatchObject({ code: "CONFIG_INVALID", category: "usage" });
  });

  it("bad credentials → exit 3, nothing secret printed", async () => {
    const r = await gl(["token", "--force-refresh"], { GL_SECRET: "definitely-wrong-secret" }, join(dir, `bad-${n++}`));
    expect(r.code).toBe(3);
    expect(r.out).toBe("");
    expect(r.err).not.toContain("definitely-wrong-secret");
  });

  it("server fault → exit 5", async () => {
    await admin(emu.adminUrl, "/faults", {
      provider: "greenlake",
      endpoint: "token",
      type: "status",
      status: 503,
      count: 20,
    });
    const r = await gl(["token"], {}, join(dir, `fault-${n++}`));
    expect(r.code).toBe(5);
  });

  it("unreachable → exit 5", async () => {
    const c = capture({ GL_SECRET: "x" });
    const code = await main(
      [
        "token",
        "--provider",
        "greenlake",
        "--base-url",
        "http://127.0.0.1:9",
        "--client-id",
        "x",
        "--client-secret-env",
        "GL_SECRET",
        "--store",
        "memory",
      ],
      c.io,
    );
    expect(code).toBe(5);
  });

  it("Aruba's login budget → exit 4 with the time of the next allowed login", async () => {
    const p = emu.providers["aruba-central"]!;
    const run = async (store: string) => {
      const c = capture(arubaFlags(p).env);
      const code = await main(["token", ...arubaFlags(p).flags, "--store-dir", store], c.io);
      return { code, err: c.err(), out: c.out() };
    };
    expect((await run(join(dir, `aruba-a-${n++}`))).code).toBe(0);
    // A second host (another store) asking for a new login inside 30 minutes is refused by the service.
    const second = await run(join(dir, `aruba-b-${n++}`));
    expect(second.code).toBe(4);
    expect(second.err).toMatch(/Retry after \d{4}-\d\d-\d\d \d\d:\d\d/);
    noSecrets(second.err);
  });

  it("--verbose shows engine events on stderr, redacted", async () => {
    const r = await gl(["token", "--verbose", "--force-refresh"]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/\[hpauth\]/);
    expect(r.err).not.toContain(r.out.trim());
    noSecrets(r.err);
  });

  it("progress on a terminal's stderr only, cleared before the result; none when not a terminal", async () => {
    const p = emu.providers["aruba-central"]!;
    await admin(emu.adminUrl, "/reset", {});
    const c = capture(arubaFlags(p).env);
    const io = { ...c.io, stderrIsTTY: true };
    const code = await main(["token", ...arubaFlags(p).flags, "--store", "memory"], io);
    expect(code, c.err()).toBe(0);
    expect(c.err()).toContain("Signing in to HPE Aruba Networking Central…");
    // The line is erased (CR + erase-line) before the token is printed.
    expect(c.err().endsWith("\r\x1b[2K")).toBe(true);
    expect(c.out()).toMatch(/^\S+\n$/);
    // The same without a terminal: nothing on stderr at all.
    const plain = await gl(["token", "--force-refresh"]);
    expect(plain.err).toBe("");
  });

  it("store warnings reach stderr through warn(), and --quiet silences them", async () => {
    const store = join(dir, `loose-${n++}`);
    await mkdir(store, { mode: 0o755 });
    await chmod(store, 0o755);
    const r = await gl(["token"], {}, store);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^Warning: Token directory .* was accessible to others \(mode 0?755\); set it to 0700\.\n$/);
    expect((await stat(store)).mode & 0o777).toBe(0o700);
    const store2 = join(dir, `loose-${n++}`);
    await mkdir(store2, { mode: 0o755 });
    await chmod(store2, 0o755);
    const q = await gl(["token", "--quiet"], {}, store2);
    expect(q.code).toBe(0);
    expect(q.err).toBe("");
  });

  it("an aborted signal cancels with exit 130", async () => {
    const p = emu.providers.greenlake!;
    await admin(emu.adminUrl, "/faults", { provider: "greenlake", endpoint: "token", type: "delay", delayMs: 5000 });
    const c = capture({ GL_SECRET: p.clientSecret! });
    const pending = main(
      [
        "token",
        "--provider",
        "greenlake",
        "--base-url",
        p.baseUrl,
        "--client-id",
        p.clientId!,
        "--client-secret-env",
        "GL_SECRET",
        "--store",
        "memory",
      ],
      c.io,
    );
    setTimeout(() => c.controller.abort(), 200);
    expect(await pending).toBe(130);
  });
});
