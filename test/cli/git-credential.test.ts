/**
 * `hpauth git-credential` with a real git: `git credential fill` through the helper, and `git ls-remote` / `git
 * clone` over smart HTTP against a small server (`git http-backend` behind node:http) that takes only a Basic
 * password the emulator's API accepts as a bearer token. The 401 path: the token is revoked, git's `erase` marks it
 * invalid, the next git command gets a renewed one. The Bearer answer of git ≥ 2.46 (not on this machine) is fed
 * the protocol directly and its Authorization header checked against the API.
 */
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shellQuote } from "../../src/cli/token-formats.js";
import { admin, BUILT_CLI, runBuiltCli } from "./helpers.js";

const run = promisify(execFile);
type Creds = Record<string, string> & { baseUrl: string };

/** key=value lines → an object (list keys joined), as a reader independent of hpauth's own parser. */
function kv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split("\n").filter(Boolean)) {
    const i = l.indexOf("=");
    out[l.slice(0, i)] = out[l.slice(0, i)] ? `${out[l.slice(0, i)]},${l.slice(i + 1)}` : l.slice(i + 1);
  }
  return out;
}

describe("hpauth git-credential with a real git", () => {
  let emu: { providers: Record<string, Creds>; adminUrl: string; close(): Promise<void> };
  let dir: string;
  let server: Server;
  let origin: string;
  let hostPort: string;
  let gitEnv: Record<string, string>;
  const log: Array<{ status: number; scheme: string; user?: string }> = [];

  const apiAccepts = async (authorization: string) =>
    (
      await fetch(new URL("/api/v1/storage-systems", emu.providers.greenlake!.baseUrl), {
        headers: { authorization },
      })
    ).status === 200;

  /** Smart HTTP: the Basic password must be a token the emulator's API takes; then git http-backend (CGI). */
  async function handle(req: IncomingMessage, res: ServerResponse) {
    const auth = req.headers.authorization ?? "";
    const [scheme = "", b64 = ""] = auth.split(" ");
    const decoded = scheme === "Basic" ? Buffer.from(b64, "base64").toString() : "";
    const user = decoded.slice(0, decoded.indexOf(":"));
    const password = decoded.slice(decoded.indexOf(":") + 1);
    const ok = scheme === "Basic" && password !== "" && (await apiAccepts(`Bearer ${password}`));
    if (!ok) {
      log.push({ status: 401, scheme, ...(user ? { user } : {}) });
      res.writeHead(401, { "www-authenticate": 'Basic realm="hpauth test"' });
      res.end();
      return;
    }
    log.push({ status: 200, scheme, user });
    const url = new URL(req.url ?? "/", origin);
    const cgi = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH ?? "",
        GIT_PROJECT_ROOT: join(dir, "srv"),
        GIT_HTTP_EXPORT_ALL: "1",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        REMOTE_USER: user,
        REMOTE_ADDR: "127.0.0.1",
        ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] } : {}),
        ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
      },
      stdio: ["pipe", "pipe", "ignore"],
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on("data", (c: Buffer) => chunks.push(c));
    cgi.on("close", () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      const head = all.subarray(0, end).toString().split("\r\n");
      let status = 200;
      const headers: Record<string, string> = {};
      for (const h of head) {
        const i = h.indexOf(":");
        const k = h.slice(0, i).trim();
        const v = h.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = Number.parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.end(all.subarray(end + 4));
    });
  }

  beforeAll(async () => {
    const { startEmulator } = await import("../../src/emulator/index.js");
    emu = (await startEmulator()) as never;
    dir = await mkdtemp(join(tmpdir(), "hpauth-git-"));
    const g = (args: string[], cwd = dir) =>
      run("git", args, { cwd, env: { ...process.env, ...gitEnv, GIT_DIR: undefined } as never });
    gitEnv = {
      PATH: process.env.PATH ?? "",
      HOME: join(dir, "home"),
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_TERMINAL_PROMPT: "0",
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
      GL_SECRET: emu.providers.greenlake!.clientSecret!,
    };
    await g(["init", "-q", "-b", "main", "work"]);
    await g(["commit", "-q", "--allow-empty", "-m", "hello from hpauth"], join(dir, "work"));
    await g(["clone", "-q", "--bare", "work", "srv/repo.git"]);
    server = createServer((req, res) => {
      handle(req, res).catch(() => {
        res.writeHead(500);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    hostPort = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    origin = `http://${hostPort}`;
    const gl = emu.providers.greenlake!;
    // A config file mapping this Git host to a profile; the secret stays in the environment.
    await writeFile(
      join(dir, "config.toml"),
      [
        "[profiles.gl]",
        'provider = "greenlake"',
        `base_url = "${gl.baseUrl}"`,
        `client_id = "${gl.clientId}"`,
        'client_secret_env = "GL_SECRET"',
        "",
        `[git_credential."${hostPort}"]`,
        'profile = "gl"',
        'username = "hpauth-bot"',
        "",
      ].join("\n"),
    );
    gitEnv.HPAUTH_CONFIG = join(dir, "config.toml");
    gitEnv.HPAUTH_STORE_DIR = join(dir, "store");
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const helper = (extra = "") => `!${shellQuote(process.execPath)} ${shellQuote(BUILT_CLI)} git-credential${extra}`;
  const git = (args: string[], input?: string) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const child = spawn("git", args, { cwd: dir, env: gitEnv, stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (c) => {
        out += c;
      });
      child.stderr.on("data", (c) => {
        err += c;
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, out, err }));
      child.stdin.end(input ?? "");
    });

  it("git credential fill: the host maps to a profile; username from the config, password = a working token", async () => {
    const r = await git(
      ["-c", `credential.helper=${helper()}`, "credential", "fill"],
      `protocol=http\nhost=${hostPort}\npath=repo.git\n\n`,
    );
    expect(r.code, r.err).toBe(0);
    const filled = kv(r.out);
    expect(filled.username).toBe("hpauth-bot");
    expect(await apiAccepts(`Bearer ${filled.password}`)).toBe(true);
    expect(r.err).not.toContain(filled.password);
  });

  it("an unmapped host gets no answer from the helper (git falls back: here, no prompt → failure)", async () => {
    const r = await git(
      ["-c", `credential.helper=${helper()}`, "credential", "fill"],
      "protocol=https\nhost=other.example\n\n",
    );
    expect(r.code).not.toBe(0);
    expect(r.out).not.toContain("password=");
  });

  it("git ls-remote and git clone over smart HTTP with the helper; -p and --git-username override", async () => {
    const viaMap = await git(["-c", `credential.helper=${helper()}`, "ls-remote", `${origin}/repo.git`]);
    expect(viaMap.code, viaMap.err).toBe(0);
    expect(viaMap.out).toMatch(/^[0-9a-f]{40}\tHEAD$/m);
    const clone = await git([
      "-c",
      `credential.helper=${helper(" -p gl --git-username robot")}`,
      "clone",
      "-q",
      `${origin}/repo.git`,
      "cloned",
    ]);
    expect(clone.code, clone.err).toBe(0);
    const { stdout } = await run("git", ["-C", join(dir, "cloned"), "log", "--format=%s"]);
    expect(stdout.trim()).toBe("hello from hpauth");
    expect(log.filter((l) => l.status === 200).map((l) => l.user)).toContain("robot");
  });

  it("a refused token: git's erase marks it invalid, and the next git command gets a renewed one", async () => {
    const cfg = ["-c", `credential.helper=${helper()}`];
    const before = kv((await git([...cfg, "credential", "fill"], `protocol=http\nhost=${hostPort}\n\n`)).out).password;
    await admin(emu.adminUrl, "/revoke", { provider: "greenlake", token: before });
    const refused = await git([...cfg, "ls-remote", `${origin}/repo.git`]);
    expect(refused.code).not.toBe(0); // git reports the refusal once, and calls erase
    expect(refused.err).toMatch(/Authentication failed/);
    const again = await git([...cfg, "ls-remote", `${origin}/repo.git`]);
    expect(again.code, again.err).toBe(0);
    const after = kv((await git([...cfg, "credential", "fill"], `protocol=http\nhost=${hostPort}\n\n`)).out).password;
    expect(after).not.toBe(before);
  });

  it("erase of a token that is not the stored one changes nothing; store is accepted and ignored", async () => {
    const env = {
      HPAUTH_CONFIG: gitEnv.HPAUTH_CONFIG!,
      HPAUTH_STORE_DIR: gitEnv.HPAUTH_STORE_DIR!,
      GL_SECRET: gitEnv.GL_SECRET!,
    };
    const req = `protocol=http\nhost=${hostPort}\n`;
    const first = kv((await runBuiltCli(["git-credential", "get"], env, `${req}\n`)).out).password;
    for (const action of ["erase", "store"]) {
      const r = await runBuiltCli(["git-credential", action], env, `${req}username=x\npassword=not-the-token\n\n`);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe("");
    }
    const second = kv((await runBuiltCli(["git-credential", "get"], env, `${req}\n`)).out).password;
    expect(second).toBe(first);
  });

  it("git ≥ 2.46's Bearer answer, when git announces capability[]=authtype and the server offers Bearer", async () => {
    const env = {
      HPAUTH_CONFIG: gitEnv.HPAUTH_CONFIG!,
      HPAUTH_STORE_DIR: gitEnv.HPAUTH_STORE_DIR!,
      GL_SECRET: gitEnv.GL_SECRET!,
    };
    const base = `capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=${hostPort}\n`;
    const bearer = await runBuiltCli(["git-credential", "get"], env, `${base}wwwauth[]=Bearer realm="x"\n\n`);
    const b = kv(bearer.out);
    expect(b["capability[]"]).toBe("authtype");
    expect(b.authtype).toBe("Bearer");
    expect(b.ephemeral).toBe("true");
    expect(b.password).toBeUndefined();
    // git sends `<authtype> <credential>` as the Authorization header.
    expect(await apiAccepts(`${b.authtype} ${b.credential}`)).toBe(true);
    expect(Number(b.password_expiry_utc)).toBeGreaterThan(Date.now() / 1000);
    // The server offers only Basic: Basic, even to a capable git.
    const basic = kv((await runBuiltCli(["git-credential", "get"], env, `${base}wwwauth[]=Basic realm="x"\n\n`)).out);
    expect(basic.authtype).toBeUndefined();
    expect(basic.password).toBe(b.credential);
    // An old git (no capability line) never gets authtype, even with --auth bearer.
    const old = await runBuiltCli(
      ["git-credential", "get", "--auth", "bearer"],
      env,
      `protocol=https\nhost=${hostPort}\nwwwauth[]=Bearer\n\n`,
    );
    expect(kv(old.out).authtype).toBeUndefined();
    expect(old.err).toMatch(/git 2\.46/);
  });

  it("docs/git.md's config, as written (the emulator's client filled in), answers `git credential fill`", async () => {
    const doc = readFileSync(new URL("../../docs/git.md", import.meta.url), "utf8");
    const toml = /```toml\n([\s\S]*?)```/.exec(doc)?.[1] ?? "";
    const gl = emu.providers.greenlake!;
    expect(toml).toContain('client_id = "…"');
    await writeFile(
      join(dir, "doc-config.toml"),
      toml.replace('client_id = "…"', `client_id = "${gl.clientId}"\nbase_url = "${gl.baseUrl}"`),
    );
    const gitLine =
      /git config --global (credential\.https:\/\/git\.example\.com\.helper) '!hpauth git-credential'/.exec(doc);
    expect(gitLine).not.toBeNull();
    const r = await new Promise<{ out: string; code: number | null }>((resolve) => {
      const child = spawn("git", ["-c", `${gitLine![1]}=${helper()}`, "credential", "fill"], {
        env: { ...gitEnv, HPAUTH_CONFIG: join(dir, "doc-config.toml"), HPAUTH_STORE_DIR: join(dir, "doc-store") },
      });
      let out = "";
      child.stdout.on("data", (c) => {
        out += c;
      });
      child.on("close", (code) => resolve({ out, code }));
      child.stdin.end("protocol=https\nhost=git.example.com\n\n");
    });
    expect(r.code).toBe(0);
    const filled = kv(r.out);
    expect(filled.username).toBe("x-access-token");
    expect(await apiAccepts(`Bearer ${filled.password}`)).toBe(true);
  });

  it("profiles remove of a profile a Git host names says so (the host would get no token)", async () => {
    const copy = join(dir, "remove.toml");
    await writeFile(copy, await readFile(gitEnv.HPAUTH_CONFIG!, "utf8"), { mode: 0o600 });
    const r = await runBuiltCli(["profiles", "remove", "gl", "--config", copy, "--store-dir", join(dir, "store-rm")]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`[git_credential."${hostPort}"]`);
    expect(r.err).toContain('still names profile "gl"');
  });

  it("never over plain http to a host that is not loopback", async () => {
    const r = await runBuiltCli(
      ["git-credential", "get", "-p", "gl"],
      { HPAUTH_CONFIG: gitEnv.HPAUTH_CONFIG!, GL_SECRET: gitEnv.GL_SECRET! },
      "protocol=http\nhost=git.example.com\n\n",
    );
    expect(r.code).toBe(0);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/not sending a token over plain http/);
  });
});
