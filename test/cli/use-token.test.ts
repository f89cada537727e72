/**
 * `hpauth request`, `hpauth curl` and `hpauth exec` as users run them: the built CLI (dist/, built by
 * test/global-setup.ts) started as a process, against the emulator and small loopback servers over real sockets,
 * with the system curl. Secrets reach the children through their environment, never argv.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { arubaFlags } from "./helpers.js";
import { privateCli } from "./private-cli.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
/** The built CLI, copied (see privateCli). */
let bin = join(root, "bin/hpauth.js");

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

let dir: string;
let emu: Emulator;

function start(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): { child: ChildProcess; done: Promise<Result> } {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: join(dir, "home"), XDG_CONFIG_HOME: join(dir, "xdg"), ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c) => {
    out += c;
  });
  child.stderr!.on("data", (c) => {
    err += c;
  });
  const done = new Promise<Result>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, out, err }));
  });
  child.stdin!.end(stdin ?? "");
  return { child, done };
}

const hpauth = (args: string[], env: Record<string, string> = {}, stdin?: string) => start(args, env, stdin).done;

/** A GreenLake profile as flags (its secret by env var name), in its own store directory. */
function gl(store: string, extra: string[] = []): { flags: string[]; env: Record<string, string> } {
  const p = emu.providers.greenlake;
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
      join(dir, store),
      ...extra,
    ],
    env: { GL_SECRET: p.clientSecret! },
  };
}

function aruba(store: string): { flags: string[]; env: Record<string, string> } {
  const a = arubaFlags(emu.providers["aruba-central"] as never);
  return { flags: [...a.flags, "--store-dir", join(dir, store)], env: a.env };
}

const counters = async (p: keyof Awaited<ReturnType<Emulator["admin"]["counters"]>>) => (await emu.admin.counters())[p];

/** A loopback API that records what it got; answers via `reply`. */
interface Got {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}
function recorder(reply: (got: Got, res: ServerResponse, n: number) => void): { server: Server; got: Got[] } {
  const got: Got[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const g = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      got.push(g);
      reply(g, res, got.length);
    });
  });
  return { server, got };
}
async function listen(s: Server): Promise<string> {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hpauth-use-"));
  bin = await privateCli(dir);
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await emu.admin.reset();
});

describe("hpauth request", () => {
  it("GreenLake: a path on the API base, the body raw on stdout (not a TTY), exit 0; the cached token next time", async () => {
    const p = gl("rq1");
    const r = await hpauth(["request", ...p.flags, "/api/v1/storage-systems"], p.env);
    expect(r.code, r.err).toBe(0);
    const body = JSON.parse(r.out);
    expect(body).toMatchObject({ count: 3, offset: 0, total: 3 });
    // Raw: the emulator's compact JSON, not re-indented.
    expect(r.out).not.toContain("\n  ");
    const again = await hpauth(["request", ...p.flags, "/api/v1/storage-systems?limit=1"], p.env);
    expect(JSON.parse(again.out).items).toHaveLength(1);
    expect((await counters("greenlake")).tokensIssued).toBe(1);
    expect(r.err + again.err).toBe("");
  });

  it("-i: status line and headers on stdout before the body", async () => {
    const p = gl("rq2");
    const r = await hpauth(["request", "-i", ...p.flags, "/api/v1/storage-systems"], p.env);
    expect(r.code, r.err).toBe(0);
    const [head, body] = r.out.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\nratelimit-limit: 600(\r\n|$)/);
    expect(head).toMatch(/\r\ncontent-type: application\/json/);
    expect(JSON.parse(body!).total).toBe(3);
  });

  it("--paginate: GreenLake offset/limit, every page in order; Aruba too", async () => {
    const p = gl("rq3");
    const r = await hpauth(["request", "--paginate", ...p.flags, "/api/v1/storage-systems?limit=1"], p.env);
    expect(r.code, r.err).toBe(0);
    const pages = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(pages.map((pg) => pg.offset)).toEqual([0, 1, 2]);
    expect(pages.flatMap((pg) => pg.items.map((i: { id: string }) => i.id))).toEqual([
      "2M202205GQ",
      "7CE816P0AD",
      "CZ2D1P0H4F",
    ]);
    expect((await counters("greenlake")).apiCalls).toBe(3);

    const a = aruba("rq3a");
    const all = await hpauth(["request", "--paginate", ...a.flags, "/monitoring/v2/aps?limit=2"], a.env);
    expect(all.code, all.err).toBe(0);
    const aps = all.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const total = aps[0].total as number;
    expect(total).toBeGreaterThan(2);
    expect(aps.flatMap((pg) => pg.aps)).toHaveLength(total);
    expect(aps).toHaveLength(Math.ceil(total / 2));
  });

  it("the 401 path: after an admin revoke, one new grant and one retry, exit 0", async () => {
    const p = gl("rq4");
    expect((await hpauth(["request", ...p.flags, "/api/v1/storage-systems"], p.env)).code).toBe(0);
    await emu.admin.revoke("greenlake");
    await emu.admin.resetCounters();
    const r = await hpauth(["request", "-v", ...p.flags, "/api/v1/storage-systems"], p.env);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).total).toBe(3);
    const c = await counters("greenlake");
    expect(c.tokensIssued).toBe(1);
    expect(c.apiCalls).toBe(2);
    expect(c.refusals.revoked_token).toBe(1);
    expect(r.err).toMatch(/unauthorized: HTTP 401/);
  });

  it("Aruba: an API-expired token → one rotating refresh; a revoked grant inside the budget → exit 4 saying when", async () => {
    const a = aruba("rq5");
    expect((await hpauth(["request", ...a.flags, "/monitoring/v2/aps"], a.env)).code).toBe(0);
    // The emulator's clock jumps 2 h; the CLI's does not, so it still trusts the token the API now refuses.
    await emu.admin.advanceClock(7300);
    const r = await hpauth(["request", ...a.flags, "/monitoring/v2/aps?limit=1"], a.env);
    expect(r.code, r.err).toBe(0);
    let c = await counters("aruba-central");
    expect(c.refreshes).toBe(1);
    expect(c.logins).toBe(1);

    await emu.admin.revoke("aruba-central");
    const refused = await hpauth(["request", ...a.flags, "/monitoring/v2/aps"], a.env);
    expect(refused.code).toBe(4);
    expect(refused.out).toBe("");
    expect(refused.err).toMatch(/one new login per client id/i);
    expect(refused.err).toMatch(/Next login allowed at/);
    c = await counters("aruba-central");
    expect(c.logins).toBe(1);
  });

  it("exit 6 on an HTTP error status, the body still printed", async () => {
    const p = gl("rq6");
    const r = await hpauth(["request", ...p.flags, "/api/v1/no-such-thing"], p.env);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.out)).toMatchObject({ error: "not_found" });
    expect(r.err).toMatch(/^hpauth: HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/api\/v1\/no-such-thing\n$/);
  });

  it("usage errors: another origin, an Authorization header, --paginate where the API has no paging", async () => {
    const p = gl("rq7");
    const foreign = await hpauth(["request", ...p.flags, "https://example.com/x"], p.env);
    expect(foreign.code).toBe(2);
    expect(foreign.err).toMatch(/Refusing to send the .* token to https:\/\/example\.com/);
    const auth = await hpauth(["request", ...p.flags, "-H", "Authorization: Bearer x", "/x"], p.env);
    expect(auth.code).toBe(2);
    const idp = emu.providers["hpe-identity"];
    const pg = await hpauth(
      [
        "request",
        "--paginate",
        "--provider",
        "hpe-identity",
        "--base-url",
        idp.baseUrl,
        "--client-id",
        idp.clientId!,
        "--client-secret-env",
        "S",
        "--store-dir",
        join(dir, "rq7i"),
        "/support/entitlement/v1/warrantyCheck/X/Y?cc=US",
      ],
      { S: idp.clientSecret! },
    );
    expect(pg.code).toBe(2);
    expect(pg.err).toMatch(/documents no paging/);
    expect((await counters("greenlake")).tokenRequests).toBe(0);
  });

  describe("bodies and headers (a loopback API that refuses each token once)", () => {
    let api: { server: Server; got: Got[] };
    let url = "";
    const tokens: string[] = [];
    beforeAll(async () => {
      api = recorder((g, res) => {
        const auth = String(g.headers.authorization ?? "");
        // Every other new token is refused once (so a retry succeeds); /always401 refuses them all.
        const first = !tokens.includes(auth);
        if (first) tokens.push(auth);
        // A refused token, echoed back the way HPE Identity does it.
        if (g.url === "/always401" || (first && tokens.length % 2 === 1))
          res
            .writeHead(401, { "content-type": "application/json" })
            .end(`{"error":"invalid_token","error_description":"Access token expired: ${auth.slice(7)}"}`);
        else
          res.writeHead(201, { "content-type": "application/json" }).end(
            JSON.stringify({
              got: g.body,
              type: g.headers["content-type"],
              x: g.headers["x-test"],
              method: g.method,
            }),
          );
      });
      url = await listen(api.server);
    });
    afterAll(async () => {
      await new Promise((r) => api.server.close(r));
    });

    it("-d @- (stdin) and -d @FILE: POST by default, JSON content type, -H sent, the body sent again on the retry", async () => {
      const p = gl("rq8", ["--api-base-url", url]);
      api.got.length = 0;
      const r = await hpauth(["request", ...p.flags, "/things", "-d", "@-", "-H", "X-Test: yes"], p.env, '{"a":1}');
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out)).toEqual({ got: '{"a":1}', type: "application/json", x: "yes", method: "POST" });
      expect(api.got.map((g) => g.body)).toEqual(['{"a":1}', '{"a":1}']);
      expect(api.got[0]!.headers.authorization).not.toBe(api.got[1]!.headers.authorization);

      const file = join(dir, "body.txt");
      await writeFile(file, "plain text");
      const f = await hpauth(["request", ...p.flags, "-X", "put", "/things", "-d", `@${file}`], p.env);
      expect(f.code, f.err).toBe(0);
      expect(JSON.parse(f.out)).toMatchObject({ got: "plain text", method: "PUT" });
    });

    it("an error body that echoes the token is printed with the token masked", async () => {
      // Two fresh tokens, each refused once: the final answer is a 401 echoing the retry's token.
      const p = gl("rq9", ["--api-base-url", url]);
      const r = await hpauth(["request", ...p.flags, "/always401"], p.env);
      expect(r.code).toBe(6);
      const last = api.got[api.got.length - 1]!;
      const token = String(last.headers.authorization).slice(7);
      expect(token.length).toBeGreaterThan(20);
      expect(r.out).toContain("Access token expired: [redacted]");
      expect(r.out + r.err).not.toContain(token);
    });
  });
});

describe("hpauth request redirects", () => {
  it("a redirect to another origin is followed without the token", async () => {
    const other = recorder((_g, res) =>
      res.writeHead(200, { "content-type": "application/json" }).end('{"where":"other"}'),
    );
    const otherUrl = await listen(other.server);
    const api = recorder((_g, res) => res.writeHead(302, { location: `${otherUrl}/landing` }).end());
    const url = await listen(api.server);
    try {
      const p = gl("rd1", ["--api-base-url", url]);
      const r = await hpauth(["request", ...p.flags, "/report"], p.env);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out)).toEqual({ where: "other" });
      expect(api.got[0]!.headers.authorization).toMatch(/^Bearer /);
      expect(other.got[0]!.headers.authorization).toBeUndefined();
    } finally {
      await new Promise((r) => api.server.close(r));
      await new Promise((r) => other.server.close(r));
    }
  });
});

/** The pids of `pid`'s children (Linux /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text.trim() ? text.trim().split(/\s+/).map(Number) : [];
}

describe("hpauth curl", () => {
  it("GreenLake: curl's stdout and exit status pass through; a /path is completed with the API base", async () => {
    const p = gl("cu1");
    const r = await hpauth(["curl", ...p.flags, "--", "-sS", "/api/v1/storage-systems?limit=2"], p.env);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).items).toHaveLength(2);
    const fail = await hpauth(["curl", ...p.flags, "--", "-sS", "--fail", "/api/v1/nope"], p.env);
    expect(fail.code).toBe(22);
    expect(fail.err).toMatch(/curl: \(22\)/);
  });

  it("Aruba: a full URL on the API origin works; another origin is refused before curl runs", async () => {
    const a = aruba("cu2");
    const base = emu.providers["aruba-central"].baseUrl;
    const r = await hpauth(["curl", ...a.flags, "--", "-s", `${base}/monitoring/v2/aps?limit=1`], a.env);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).aps).toHaveLength(1);
    const foreign = await hpauth(["curl", ...a.flags, "--", "-s", "https://example.com/"], a.env);
    expect(foreign.code).toBe(2);
    const trusted = await hpauth(["curl", ...a.flags, "--", "--location-trusted", `${base}/x`], a.env);
    expect(trusted.code).toBe(2);
    expect(trusted.err).toMatch(/location-trusted/);
  });

  it("the token is not in the running curl's argv or environment; the API gets it; no temp file is left", async () => {
    let release: () => void = () => {};
    let held = Promise.resolve();
    const api = recorder((_g, res) => {
      held.then(() => res.writeHead(200, { "content-type": "text/plain" }).end("ok"));
    });
    const url = await listen(api.server);
    const tmp = join(dir, "cu3-tmp");
    await mkdir(tmp);
    try {
      const p = gl("cu3", ["--api-base-url", url]);
      for (const curlArgs of [
        ["-sS", "/slow"],
        ["-sS", "-d", "@-", "/slow"],
      ]) {
        api.got.length = 0;
        held = new Promise<void>((r) => {
          release = r;
        });
        const run = start(["curl", ...p.flags, "--", ...curlArgs], { ...p.env, TMPDIR: tmp }, "from stdin");
        // Wait until curl's request reached the server; curl is then running, waiting for the answer.
        while (api.got.length === 0) await new Promise((r) => setTimeout(r, 20));
        const kids = await childrenOf(run.child.pid!);
        expect(kids.length).toBe(1);
        const cmdline = (await readFile(`/proc/${kids[0]}/cmdline`, "utf8")).split("\0");
        const environ = await readFile(`/proc/${kids[0]}/environ`, "utf8");
        expect(cmdline[0]).toMatch(/curl$/);
        const token = String(api.got[0]!.headers.authorization).replace(/^Bearer /, "");
        expect(api.got[0]!.headers.authorization).toMatch(/^Bearer .{20,}/);
        expect(cmdline.join(" ")).not.toContain(token);
        expect(environ).not.toContain(token);
        if (curlArgs.includes("@-")) expect(api.got[0]!.body).toBe("from stdin");
        release();
        const r = await run.done;
        expect(r.code, r.err).toBe(0);
        expect(r.out).toBe("ok");
        expect(await readdir(tmp)).toEqual([]);
      }
    } finally {
      release();
      await new Promise((r) => api.server.close(r));
    }
  });

  it("-L to another host: curl does not carry the Authorization header there", async () => {
    const other = recorder((_g, res) => res.writeHead(200).end("other"));
    const otherUrl = await listen(other.server);
    const api = recorder((_g, res) => res.writeHead(302, { location: `${otherUrl}/landing` }).end());
    const url = await listen(api.server);
    try {
      const p = gl("cu4", ["--api-base-url", url]);
      const r = await hpauth(["curl", ...p.flags, "--", "-sSL", "/start"], p.env);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe("other");
      expect(api.got[0]!.headers.authorization).toMatch(/^Bearer /);
      expect(other.got[0]!.headers.authorization).toBeUndefined();
    } finally {
      await new Promise((r) => api.server.close(r));
      await new Promise((r) => other.server.close(r));
    }
  });
});

describe("hpauth exec", () => {
  const printEnv =
    "process.stdout.write(JSON.stringify({t: process.env.HPAUTH_TOKEN, h: process.env.HPEGL_IAM_TOKEN, e: process.env.HPAUTH_TOKEN_EXPIRES_AT, argv: process.argv.slice(1)}))";

  it("GreenLake: the token in HPAUTH_TOKEN (or --env VAR), the same `hpauth token` prints; argv untouched", async () => {
    const p = gl("ex1");
    const r = await hpauth(["exec", ...p.flags, "--", process.execPath, "-e", printEnv, "a b", "--flag"], p.env);
    expect(r.code, r.err).toBe(0);
    const seen = JSON.parse(r.out);
    const t = await hpauth(["token", ...p.flags], p.env);
    expect(seen.t).toBe(t.out.trim());
    expect(seen.e).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(seen.argv).toEqual(["a b", "--flag"]);
    const h = await hpauth(
      ["exec", ...p.flags, "--env", "HPEGL_IAM_TOKEN", "--", process.execPath, "-e", printEnv],
      p.env,
    );
    expect(JSON.parse(h.out).h).toBe(t.out.trim());
    expect((await counters("greenlake")).tokensIssued).toBe(1);
  });

  it("Aruba: --min-ttl beyond the token's life left gets a fresh one by refresh; the child's exit status is returned", async () => {
    const a = aruba("ex2");
    const first = await hpauth(["exec", ...a.flags, "--", process.execPath, "-e", printEnv], a.env);
    expect(first.code, first.err).toBe(0);
    const r = await hpauth(
      ["exec", ...a.flags, "--min-ttl", "7200", "--", process.execPath, "-e", `${printEnv}; process.exit(7)`],
      a.env,
    );
    expect(r.code).toBe(7);
    // 7200 s is Aruba's whole lifetime: the token cannot have that much left by the time it is checked.
    expect(r.err).toMatch(/^Warning: the token expires in \d+ s, before --min-ttl 7200 s/);
    expect(JSON.parse(r.out).t).not.toBe(JSON.parse(first.out).t);
    const c = await counters("aruba-central");
    expect(c.logins).toBe(1);
    expect(c.refreshes).toBe(1);
  });

  it("signals are forwarded: SIGTERM and SIGINT (stdin not a TTY) reach the child, which decides; 128+n when it dies", async () => {
    const p = gl("ex3");
    const handler =
      "for (const s of ['SIGTERM','SIGINT','SIGHUP']) process.on(s, () => { process.stdout.write('got ' + s); process.exit(3); }); process.stdout.write('ready'); setInterval(() => {}, 1000);";
    for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      const run = start(["exec", ...p.flags, "--", process.execPath, "-e", handler], p.env);
      let out = "";
      run.child.stdout!.on("data", (c) => {
        out += c;
      });
      while (!out.includes("ready")) await new Promise((r) => setTimeout(r, 20));
      run.child.kill(sig);
      const r = await run.done;
      expect(r.out).toBe(`readygot ${sig}`);
      expect(r.code).toBe(3);
    }
    // A child without handlers dies of the signal: hpauth reports 128 + 15.
    const bare = start(
      ["exec", ...p.flags, "--", process.execPath, "-e", "process.stdout.write('ready'); setInterval(() => {}, 1000);"],
      p.env,
    );
    let out = "";
    bare.child.stdout!.on("data", (c) => {
      out += c;
    });
    while (!out.includes("ready")) await new Promise((r) => setTimeout(r, 20));
    bare.child.kill("SIGTERM");
    const r = await bare.done;
    expect(r.code).toBe(143);
    expect(await childrenOf(bare.child.pid!)).toEqual([]);
  });

  it("a command that is not there → 127; no command → 2", async () => {
    const p = gl("ex4");
    const r = await hpauth(["exec", ...p.flags, "--", "no-such-command-hpauth"], p.env);
    expect(r.code).toBe(127);
    expect(r.err).toMatch(/command not found: no-such-command-hpauth/);
    const none = await hpauth(["exec", ...p.flags], p.env);
    expect(none.code).toBe(2);
  });
});
