/**
 * Proof that no secret leaks: a scenario of its own against a fresh emulator — every provider through the engine
 * (refresh, re-login, revoked grants, every fault type, API 401s, wrong credentials) and through the built CLI as
 * real child processes — collecting every byte printed and stored, then scanning it all for every secret that
 * crossed the wire. The secrets are learned, not guessed: the emulator's credentials, a recording fetch in the
 * engine's runtime (and preloaded into the CLI children), and the token store files. Only two places may hold a
 * secret: the token store files (access and refresh tokens, nothing else) and the stdout of `token` / `header`
 * (exactly the access token, the purpose of those commands). Hits are reported by source and fingerprint.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inspect } from "node:util";
import { build } from "esbuild";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { createTokenManager, type TokenManagerOptions } from "../../src/engine/manager.js";
import type { NamedProfile, ProviderId } from "../../src/engine/types.js";
import { FileTokenStore } from "../../src/stores/file.js";
import { emulatorUser } from "../engine/helpers.js";
import {
  fingerprint,
  formatHits,
  recordingFetch,
  SecretSet,
  scanAll,
  scanTranscript,
  type Transcript,
  type WireSecret,
} from "./scanner.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
type Emu = "techpulse" | "wxp" | "greenlake" | "aruba-central" | "hpe-identity" | "greenlake-platform";
const PROVIDERS: Emu[] = ["techpulse", "wxp", "greenlake", "aruba-central", "hpe-identity", "greenlake-platform"];

const secrets = new SecretSet();
const learn = (s: WireSecret) => secrets.add(s.kind, s.value);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hpauth-secscan-"));
  await chmod(dir, 0o700);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every file under `d`, as store transcripts: access and refresh tokens belong there, nothing else does. */
async function storeTranscripts(d: string, label: string): Promise<Transcript[]> {
  const out: Transcript[] = [];
  const walk = async (p: string): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(p);
    } catch {
      return;
    }
    for (const name of entries) {
      const full = join(p, name);
      const st = await stat(full).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) await walk(full);
      else {
        const text = await readFile(full, "utf8").catch(() => "");
        for (const m of text.matchAll(/"(accessToken|refreshToken)"\s*:\s*"([^"]+)"/g)) {
          secrets.add(m[1] === "accessToken" ? "access token" : "refresh token", m[2]);
        }
        out.push({
          source: `${label} store file ${relative(d, full)}`,
          text,
          allowKinds: ["access token", "refresh token"],
        });
      }
    }
  };
  await walk(d);
  return out;
}

/** Everything an error can show of itself, the ways a program might log it. */
function errorTranscript(source: string, err: unknown): Transcript {
  const e = err as Error & { hint?: string; response?: unknown };
  const parts = [
    `message: ${e?.message}`,
    `String: ${String(e)}`,
    `JSON: ${JSON.stringify(e)}`,
    `hint: ${e?.hint ?? ""}`,
    `stack: ${e?.stack ?? ""}`,
    `inspect: ${inspect(e, { depth: 6 })}`,
  ];
  return { source: `${source} (error)`, text: parts.join("\n") };
}

// ---- the scanner can fail ---------------------------------------------------------------------------------------

describe("the scanner", () => {
  const set = new SecretSet();
  const secret = "s3cr3t-Client-Value-0123456789abcdef";
  const jwt = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0LXVzZXIiLCJqdGkiOiJhYmMxMjMifQ.${"Q".repeat(20)}sigPart_xyz-0123456789`;
  const session = "sessVALUE0123456789";
  set.add("client secret", secret);
  set.add("access token", jwt);
  set.add("session cookie", session);

  it("finds a planted secret whole, encoded, as a fragment and by shape, and reports only a fingerprint", () => {
    const transcripts: Transcript[] = [
      { source: "fake stderr (exact)", text: `hpauth: refused client_id=abc with ${secret} oops` },
      { source: "fake log (base64)", text: `Authorization header was ${Buffer.from(secret).toString("base64")}` },
      { source: "fake excerpt (fragment)", text: `body: {"error":"x","tok":"…${jwt.slice(-30)}"}` },
      { source: "fake excerpt (cut before the signature)", text: `got ${jwt.slice(0, jwt.lastIndexOf(".") - 3)}…` },
      { source: "fake verbose (cookie shape)", text: "set-cookie: session=UnknownValue987654321; Path=/" },
      { source: "fake verbose (known cookie)", text: `cookie ${session} sent` },
      {
        source: "fake stdout (unknown JWT)",
        text: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzb21lb25lIn0.c2lnbmF0dXJlLXZhbHVlLWhlcmU",
      },
      { source: "fake stdout (Bearer)", text: "Authorization: Bearer abcdefghijklmnop0123456789" },
    ];
    const hits = scanAll(transcripts, set);
    const sources = hits.map((h) => h.source);
    for (const t of transcripts) expect(sources, t.source).toContain(t.source);
    const report = formatHits(hits);
    expect(report).toContain(fingerprint(secret));
    expect(report).not.toContain(secret);
    expect(report).not.toContain(jwt.slice(-30));
    expect(report).not.toContain("UnknownValue987654321");
  });

  it("allows exactly the access token on a token stdout, and tokens in store files, and nothing else there", () => {
    expect(scanTranscript({ source: "token stdout", text: `${jwt}\n`, allow: [jwt] }, set)).toEqual([]);
    expect(
      scanTranscript({ source: "token --json", text: JSON.stringify({ access_token: jwt }), allow: [jwt] }, set),
    ).toEqual([]);
    expect(scanTranscript({ source: "token stdout", text: `${jwt}\n${secret}\n`, allow: [jwt] }, set)).toHaveLength(1);
    const store = { accessToken: jwt, lastError: { message: `bad ${secret}` } };
    const hits = scanTranscript(
      { source: "store", text: JSON.stringify(store), allowKinds: ["access token", "refresh token"] },
      set,
    );
    expect(hits.map((h) => h.kind)).toEqual(["client secret"]);
    expect(scanTranscript({ source: "clean", text: "hpauth: Bearer [redacted], session=[redacted]" }, set)).toEqual([]);
    const fieldNames = 'hpauth: password: passwordCommand for profile "wxp" failed; client_secret=client_secret_env';
    expect(scanTranscript({ source: "field names", text: fieldNames }, set)).toEqual([]);
  });

  it("learns secrets from the wire: Basic credentials, Set-Cookie, CSRF header, codes and tokens", async () => {
    const learned = new SecretSet();
    const fakeFetch = (async () =>
      new Response(JSON.stringify({ access_token: "AT-0123456789abcdef", refresh_token: "RT-0123456789abcdef" }), {
        headers: [
          ["set-cookie", "csrftoken=CSRF0123456789; Path=/"],
          ["set-cookie", "session=SESS0123456789; HttpOnly"],
        ],
      })) as typeof fetch;
    const f = recordingFetch((s) => learned.add(s.kind, s.value), fakeFetch);
    await f("http://127.0.0.1:1/oauth2/token?client_secret=QS-secret-123456&code=CODE-12345678", {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from("id:basic-secret-123").toString("base64")}`,
        "x-csrf-token": "HDR-csrf-123456",
      },
      body: "grant_type=password&password=PW-12345678",
    });
    expect(learned.values("client secret").sort()).toEqual(["QS-secret-123456", "basic-secret-123"]);
    expect(learned.values("auth code")).toEqual(["CODE-12345678"]);
    expect(learned.values("password")).toEqual(["PW-12345678"]);
    expect(learned.values("csrf token").sort()).toEqual(["CSRF0123456789", "HDR-csrf-123456"]);
    expect(learned.values("session cookie")).toEqual(["SESS0123456789"]);
    expect(learned.values("access token")).toEqual(["AT-0123456789abcdef"]);
    expect(learned.values("refresh token")).toEqual(["RT-0123456789abcdef"]);
  });
});

// ---- engine level ---------------------------------------------------------------------------------------------

describe("engine: every provider, every failure, nothing secret in events, errors, logs or status", () => {
  let emu: Emulator;
  const emulatorLog: string[] = [];
  const engineTranscripts: Transcript[] = [];
  const eventLogs: Array<{ source: string; lines: string[] }> = [];
  const storeDirs: string[] = [];
  /** Identity's 401 body, echoing a token: what a leak would look like, to prove the scan would catch it. */
  let echoBody = "";
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const advance = async (seconds: number) => {
    offsetMs = (await emu.admin.advanceClock(seconds)).offsetSeconds * 1000;
  };
  const wrong = { secret: "wrong-client-secret-4f9a1c", password: "wrong-password-77e2b0" };
  secrets.add("client secret", wrong.secret);
  secrets.add("password", wrong.password);

  beforeAll(async () => {
    emu = await startEmulator({ port: 0, log: (line) => emulatorLog.push(line) });
    for (const p of PROVIDERS) {
      secrets.add("client secret", emu.providers[p].clientSecret);
      secrets.add("password", emu.providers[p].password);
    }
  });
  afterAll(async () => {
    await emu?.close();
  });

  // Each test checks its own output, so a test run alone (`-t aruba`) still proves something; the last test
  // scans the whole run again (what one test prints may hold a secret another learned).
  const mark = { engine: 0, events: 0, stores: 0, emulator: 0 };
  beforeEach(() => {
    Object.assign(mark, {
      engine: engineTranscripts.length,
      events: eventLogs.length,
      stores: storeDirs.length,
      emulator: emulatorLog.length,
    });
  });
  afterEach(async (ctx) => {
    const own: Transcript[] = [
      ...engineTranscripts.slice(mark.engine),
      ...eventLogs.slice(mark.events).map((l) => ({ source: l.source, text: l.lines.join("\n") })),
      { source: "emulator log (this test)", text: emulatorLog.slice(mark.emulator).join("\n") },
    ];
    for (const d of storeDirs.slice(mark.stores))
      own.push(...(await storeTranscripts(d, `engine ${relative(dir, d)}`)));
    if (!ctx.task.name.startsWith("nothing secret")) {
      expect(
        own.some((t) => t.text.length > 0),
        "this test produced output to scan",
      ).toBe(true);
    }
    const hits = scanAll(own, secrets);
    expect(formatHits(hits), `secrets found in the output of "${ctx.task.name}" (source, kind, fingerprint)`).toBe("");
  });

  function profile(provider: Emu, extra: Partial<NamedProfile> = {}): NamedProfile {
    const info = emu.providers[provider];
    const p: NamedProfile = { name: `sec-${provider}`, provider: provider as ProviderId, baseUrl: info.baseUrl };
    if (info.clientId && provider !== "wxp") p.clientId = info.clientId;
    if (info.clientSecret) p.clientSecret = info.clientSecret;
    if (info.username) p.username = info.username;
    if (info.password) p.password = info.password;
    if (info.customerId) p.customerId = info.customerId;
    if (info.redirectUri) p.redirectUri = info.redirectUri;
    if (info.workspaceId) p.workspaceId = info.workspaceId;
    return { ...p, ...extra };
  }

  /** A manager on a file store of its own, its fetch recorded, its events captured as JSON. */
  async function manager(
    label: string,
    provider: Emu,
    extra: Partial<NamedProfile> = {},
    opts: Partial<TokenManagerOptions> = {},
  ) {
    const storeDir = join(dir, "engine-stores", label);
    await mkdir(storeDir, { recursive: true });
    storeDirs.push(storeDir);
    const lines: string[] = [];
    eventLogs.push({ source: `engine ${label} events`, lines });
    const warnings: string[] = [];
    eventLogs.push({ source: `engine ${label} store warnings`, lines: warnings });
    const store = new FileTokenStore({ dir: storeDir, onWarning: (m) => warnings.push(m) });
    const m = createTokenManager({
      profile: profile(provider, extra),
      store,
      runtime: {
        now,
        fetch: recordingFetch(learn),
        sleep: async () => {
          await new Promise((r) => setTimeout(r, 1));
        },
        env: {},
      },
      onEvent: (e) => lines.push(JSON.stringify(e)),
      retry: { attempts: 3, timeoutMs: 400, baseDelayMs: 50 },
      ...(provider === "techpulse" ? { authorizer: emulatorUser(emu, "techpulse") } : {}),
      ...opts,
    });
    return Object.assign(m, { label, store, storeDir });
  }

  /** Runs `fn`, which must fail; keeps everything the error shows of itself. */
  async function failing(label: string, fn: () => Promise<unknown>): Promise<Error & { code?: string }> {
    const err = await fn().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${label} should fail`).toBeInstanceOf(Error);
    const e = err as Error & { code?: string };
    // The raw response is there for programs, never for logs: not enumerable, not in JSON.
    expect(Object.keys(e)).not.toContain("response");
    engineTranscripts.push(errorTranscript(`engine ${label}`, e));
    return e;
  }

  async function statusOf(m: { label: string; status(): Promise<unknown> }) {
    engineTranscripts.push({ source: `engine ${m.label} status()`, text: JSON.stringify(await m.status()) });
  }

  const apiCall = {
    techpulse: { path: "/analytics/v1/reports/hwinv/deviceType/type/graph", init: { method: "POST", body: "{}" } },
    wxp: { path: "/api/v1/collaboration/rooms", init: {} },
    greenlake: { path: "/api/v1/storage-systems", init: {} },
    "aruba-central": { path: "/monitoring/v2/aps", init: {} },
    "hpe-identity": { path: "/support/entitlement/v1/warrantyCheck/SGH123/P123?cc=US&hsl=true", init: {} },
  } as const;

  it("techpulse: login, refresh, API 401, revoked grant, re-login, wrong secret, denied consent", async () => {
    const m = await manager("techpulse", "techpulse");
    await m.getToken();
    await m.getToken();
    await advance(1800 - 20);
    expect((await m.getToken()).source).toBe("refresh");
    await emu.admin.fault({ provider: "techpulse", endpoint: "api", type: "status", status: 401 });
    expect((await m.fetch(apiCall.techpulse.path, apiCall.techpulse.init)).status).toBe(200);
    await emu.admin.revoke("techpulse");
    expect((await m.getToken({ forceRefresh: true })).source).toBe("login");
    await statusOf(m);
    await emu.admin.revoke("techpulse");
    const noBrowser = await manager("techpulse-no-browser", "techpulse", {}, { authorizer: undefined as never });
    await noBrowser.store.set(noBrowser.key, (await m.store.get(m.key))!);
    expect(
      (await failing("techpulse revoked, no browser", () => noBrowser.getToken({ forceRefresh: true }))).code,
    ).toBe("LOGIN_REQUIRED");
    await statusOf(noBrowser);
    await failing("techpulse wrong secret", async () =>
      (await manager("techpulse-wrong", "techpulse", { clientSecret: wrong.secret })).getToken(),
    );
    await failing("techpulse consent denied", async () =>
      (
        await manager("techpulse-deny", "techpulse", {}, { authorizer: emulatorUser(emu, "techpulse", "deny") })
      ).getToken(),
    );
  });

  it("wxp: password grant, proactive re-login, wrong password, 503s", async () => {
    const m = await manager("wxp", "wxp");
    await m.getToken();
    await advance(290);
    expect((await m.getToken()).source).toBe("login");
    expect((await m.fetch(apiCall.wxp.path)).status).toBe(200);
    await statusOf(m);
    const bad = await manager("wxp-wrong", "wxp", { password: wrong.password });
    await failing("wxp wrong password", () => bad.getToken());
    await statusOf(bad);
    await emu.admin.fault({ provider: "wxp", endpoint: "token", type: "status", status: 503, count: 10 });
    await failing("wxp 503", async () => (await manager("wxp-503", "wxp")).getToken());
    await emu.admin.clearFaults();
  });

  it("greenlake: post and basic, wrong secret both ways, every fault type at the token endpoint", async () => {
    const m = await manager("greenlake", "greenlake");
    await m.getToken();
    expect((await m.fetch(apiCall.greenlake.path)).status).toBe(200);
    const basic = await manager("greenlake-basic", "greenlake", { clientAuth: "client_secret_basic" });
    await basic.getToken();
    await failing("greenlake wrong secret (post)", async () =>
      (await manager("greenlake-wrong", "greenlake", { clientSecret: wrong.secret })).getToken(),
    );
    await failing("greenlake wrong secret (basic)", async () =>
      (
        await manager("greenlake-wrong-basic", "greenlake", {
          clientSecret: wrong.secret,
          clientAuth: "client_secret_basic",
        })
      ).getToken(),
    );
    const faults = [
      { type: "status", status: 500 },
      { type: "status", status: 503 },
      { type: "status", status: 429, retryAfter: 600 },
      { type: "malformed" },
      { type: "truncated" },
      { type: "html" },
      { type: "drop" },
      { type: "delay", delayMs: 1000 },
    ] as const;
    for (const f of faults) {
      const label = `greenlake-fault-${f.type}${"status" in f ? `-${f.status}` : ""}`;
      await emu.admin.fault({ provider: "greenlake", endpoint: "token", count: 3, ...f });
      const fm = await manager(label, "greenlake");
      await failing(label, () => fm.getToken());
      await statusOf(fm);
      await emu.admin.clearFaults();
    }
  });

  it("greenlake-platform: post and basic, MSP exchange, revoked subject, wrong secret, foreign workspace, non-tenant", async () => {
    const m = await manager("glp", "greenlake-platform");
    await m.getToken();
    const tenants = (await (await m.fetch("/workspaces/v1/msp-tenants")).json()) as { items: Array<{ id: string }> };
    const tenant = tenants.items[0]!.id;
    const basic = await manager("glp-basic", "greenlake-platform", { clientAuth: "client_secret_basic" });
    await basic.getToken();
    const msp = await manager("glp-msp", "greenlake-platform", { tenantWorkspaceId: tenant });
    await msp.getToken();
    expect((await msp.fetch("/devices/v1/devices")).status).toBe(200);
    await emu.admin.revoke("greenlake-platform", (await msp.store.get(msp.subjectManager!.key))!.accessToken);
    await msp.getToken({ forceRefresh: true });
    await statusOf(msp);
    await failing("glp wrong secret", async () =>
      (await manager("glp-wrong", "greenlake-platform", { clientSecret: wrong.secret })).getToken(),
    );
    await failing("glp foreign workspace", async () =>
      (await manager("glp-foreign", "greenlake-platform", { workspaceId: tenant })).getToken(),
    );
    await failing("glp not a tenant", async () =>
      (
        await manager("glp-not-tenant", "greenlake-platform", { tenantWorkspaceId: "ffffffffffffffffffffffffffffffff" })
      ).getToken(),
    );
    await emu.admin.fault({ provider: "greenlake-platform", endpoint: "token", type: "echo", status: 400 });
    await failing("glp token request echoes the secret", async () =>
      (await manager("glp-echo", "greenlake-platform")).getToken(),
    );
    // The exchange's answer echoes the subject token (the MSP token, already cached): masked like any token.
    const echoing = await manager("glp-echo-exchange", "greenlake-platform", { tenantWorkspaceId: tenant });
    await echoing.subjectManager!.getToken();
    await emu.admin.fault({ provider: "greenlake-platform", endpoint: "token", type: "echo", status: 400, count: 2 });
    await failing("glp exchange echoes the subject token", () => echoing.getToken());
  });

  it("aruba-central: three steps, refresh, API 401, revoke, login budget, wrong password, step faults, import", async () => {
    const m = await manager("aruba", "aruba-central");
    await m.getToken();
    await advance(7200);
    expect((await m.getToken()).source).toBe("refresh");
    await emu.admin.fault({ provider: "aruba-central", endpoint: "api", type: "status", status: 401 });
    expect((await m.fetch(apiCall["aruba-central"].path)).status).toBe(200);
    await statusOf(m);
    // An imported pair (the Central UI's) validated by refresh, and a bogus one refused.
    const sso = await manager("aruba-sso", "aruba-central", { username: undefined, password: undefined });
    const rec = await m.store.get(m.key);
    await sso.importTokens({ refreshToken: rec?.refreshToken ?? "" });
    await failing("aruba import of a bogus refresh token", () =>
      sso.importTokens({ refreshToken: "bogus-refresh-token-0123456789" }),
    );
    secrets.add("refresh token", "bogus-refresh-token-0123456789");
    // Revoked two hours after the login: the refresh is refused and a new login (steps 1-3) is allowed again.
    await emu.admin.revoke("aruba-central");
    expect((await m.fetch(apiCall["aruba-central"].path)).status).toBe(200);
    // Revoked right after that login: refresh refused, and the budget blocks another login.
    await emu.admin.revoke("aruba-central");
    expect((await failing("aruba revoked, budget spent", () => m.fetch(apiCall["aruba-central"].path))).code).toBe(
      "LOGIN_BUDGET_EXHAUSTED",
    );
    await statusOf(m);
    // A fresh store has its own budget: the emulator's one-token-per-30-minutes limit refuses at step 2 instead.
    await failing("aruba emulator rate limit", async () =>
      (await manager("aruba-ratelimit", "aruba-central")).getToken(),
    );
    await advance(1800);
    await failing("aruba wrong password", async () =>
      (await manager("aruba-wrong-password", "aruba-central", { password: wrong.password })).getToken(),
    );
    await failing("aruba wrong secret", async () =>
      (await manager("aruba-wrong-secret", "aruba-central", { clientSecret: wrong.secret })).getToken(),
    );
    for (const [endpoint, type] of [
      ["login", "status"],
      ["code", "html"],
      ["token", "truncated"],
      ["token", "malformed"],
    ] as const) {
      await advance(1800);
      await emu.admin.fault({ provider: "aruba-central", endpoint, type, status: 503, count: 3 });
      const label = `aruba-fault-${endpoint}-${type}`;
      const fm = await manager(label, "aruba-central");
      await failing(label, () => fm.getToken());
      await statusOf(fm);
      await emu.admin.clearFaults();
    }
  });

  it("hpe-identity: grant, API 401 whose body echoes the token, wrong secret, 429", async () => {
    const m = await manager("identity", "hpe-identity");
    const t = await m.getToken();
    await emu.admin.revoke("hpe-identity", t.accessToken);
    // The API's 401 body echoes the whole token; the engine refreshes once and retries.
    expect((await m.fetch(apiCall["hpe-identity"].path)).status).toBe(200);
    // The echo is real (so this scenario tests what it claims): the revoked token comes back in the 401 body.
    const echo = await fetch(new URL(apiCall["hpe-identity"].path, emu.providers["hpe-identity"].baseUrl), {
      headers: { authorization: `Bearer ${t.accessToken}` },
    });
    expect(echo.status).toBe(401);
    echoBody = await echo.text();
    expect(echoBody).toContain(t.accessToken);
    await statusOf(m);
    await failing("identity wrong secret", async () =>
      (await manager("identity-wrong", "hpe-identity", { clientSecret: wrong.secret })).getToken(),
    );
    await emu.admin.fault({
      provider: "hpe-identity",
      endpoint: "token",
      type: "status",
      status: 429,
      retryAfter: 900,
    });
    await failing("identity 429", async () => (await manager("identity-429", "hpe-identity")).getToken());
  });

  it("nothing secret in any event, error, status, store warning or emulator log line", async () => {
    const transcripts: Transcript[] = [
      ...engineTranscripts,
      ...eventLogs.map((l) => ({ source: l.source, text: l.lines.join("\n") })),
      { source: "emulator log (in-process, log option)", text: emulatorLog.join("\n") },
    ];
    const storeFiles: Transcript[] = [];
    for (const d of storeDirs) storeFiles.push(...(await storeTranscripts(d, `engine ${relative(dir, d)}`)));
    // The scan is only as good as what it knows: make sure it learned every kind of secret.
    expect(secrets.values("access token").length).toBeGreaterThan(10);
    expect(secrets.values("refresh token").length).toBeGreaterThan(3);
    expect(secrets.values("auth code").length).toBeGreaterThan(2);
    expect(secrets.values("session cookie").length).toBeGreaterThan(0);
    expect(secrets.values("csrf token").length).toBeGreaterThan(0);
    expect(secrets.values("basic credentials").length).toBeGreaterThan(0);
    expect(eventLogs.some((l) => l.lines.length > 0)).toBe(true);
    expect(emulatorLog.length).toBeGreaterThan(20);
    // The canary: had the engine put Identity's 401 body into a message, this is what the scan would report.
    expect(scanTranscript({ source: "canary", text: echoBody }, secrets).map((h) => h.kind)).toContain("access token");
    const hits = scanAll([...transcripts, ...storeFiles], secrets);
    expect(formatHits(hits), "secrets found in engine output (source, kind, fingerprint)").toBe("");
  });
});

// ---- CLI level --------------------------------------------------------------------------------------------------

/**
 * A person at a browser, over plain HTTP: opens `url` (hpauth's authorization URL), signs in, presses Allow, and
 * returns the address the browser lands on (the registered redirect URI with code and state), without following it.
 */
async function browse(url: URL, redirectUri: string, user: { username: string; password: string }): Promise<URL> {
  const jar = new Map<string, string>();
  let init: RequestInit = { method: "GET" };
  for (let step = 0; step < 8; step++) {
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: {
        ...((init.headers as Record<string, string>) ?? {}),
        ...(jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") } : {}),
      },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair = ""] = c.split(";");
      const i = pair.indexOf("=");
      if (i > 0) {
        jar.set(pair.slice(0, i), pair.slice(i + 1));
        secrets.add("session cookie", pair.slice(i + 1));
      }
    }
    const location = res.headers.get("location");
    if (location) {
      await res.body?.cancel();
      const next = new URL(location, url);
      if (next.href.startsWith(redirectUri)) return next;
      url = next;
      init = { method: "GET" };
      continue;
    }
    const html = await res.text();
    const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(html);
    if (!form) throw new Error(`no form (HTTP ${res.status})`);
    const body = new URLSearchParams();
    for (const m of (form[2] ?? "").matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      body.set(m[1] ?? "", (m[2] ?? "").replace(/&amp;/g, "&").replace(/&quot;/g, '"'));
    }
    if (/name="password"/.test(form[2] ?? "")) {
      body.set("username", user.username);
      body.set("password", user.password);
    }
    if (/name="decision"/.test(form[2] ?? "")) body.set("decision", "allow");
    url = new URL(form[1] ?? "", url);
    init = { method: "POST", body: body.toString(), headers: { "content-type": "application/x-www-form-urlencoded" } };
  }
  throw new Error("too many steps");
}

interface RunResult {
  code: number | null;
  out: string;
  err: string;
}

describe("CLI: every command's stdout and stderr, the config file, the emulator's stderr", { timeout: 60_000 }, () => {
  let cli: string;
  let recorder: string;
  let cliDir: string;
  let storeDir: string;
  let configPath: string;
  let emuChild: ChildProcess;
  let emuOut = "";
  let emuErr = "";
  let ready: { providers: Record<Emu, Record<string, string>>; adminUrl: string };
  const cliTranscripts: Transcript[] = [];
  let secretEnv: Record<string, string> = {};
  let runs = 0;

  const admin = async (path: string, body?: unknown, method = "POST") => {
    const res = await fetch(new URL(path, ready.adminUrl), {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`admin ${path}: HTTP ${res.status}`);
  };

  /** One CLI run as a real process; secrets only in its environment; stdout and stderr kept for the scan. */
  async function hpauth(
    args: string[],
    opts: {
      env?: Record<string, string>;
      stdin?: string;
      allowToken?: "plain" | "header" | "json";
      /** Called with stderr as it grows; writes to stdin; the run's stdin stays open until it resolves true. */
      interact?: (stderrSoFar: string, write: (s: string) => void) => Promise<boolean>;
    } = {},
  ): Promise<RunResult> {
    const wireLog = join(cliDir, `wire-${++runs}.jsonl`);
    const r = await new Promise<RunResult>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, ...args], {
        cwd: cliDir,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: join(cliDir, "home"),
          XDG_CONFIG_HOME: join(cliDir, "xdg-config"),
          XDG_DATA_HOME: join(cliDir, "xdg-data"),
          HPAUTH_CONFIG: configPath,
          HPAUTH_STORE_DIR: storeDir,
          NODE_OPTIONS: `--import=${pathToFileURL(recorder).href}`,
          HPAUTH_TEST_WIRE_LOG: wireLog,
          ...secretEnv,
          ...opts.env,
        },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (c) => {
        out += c;
      });
      let interacting = false;
      let done = false;
      child.stderr.on("data", (c) => {
        err += c;
        if (!opts.interact || interacting || done) return;
        interacting = true;
        opts
          .interact(err, (s) => child.stdin.write(s))
          .then((finished) => {
            interacting = false;
            if (finished) {
              done = true;
              child.stdin.end();
            }
          }, reject);
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, out, err }));
      if (!opts.interact) child.stdin.end(opts.stdin ?? "");
    });
    const wire = await readFile(wireLog, "utf8").catch(() => "");
    for (const line of wire.split("\n").filter(Boolean)) learn(JSON.parse(line) as WireSecret);
    await rm(wireLog, { force: true });
    await storeTranscripts(storeDir, "cli"); // learns every token stored so far
    const name = `hpauth ${args.join(" ")}`;
    const allow: string[] = [];
    if (opts.allowToken && r.code === 0) {
      const token =
        opts.allowToken === "plain"
          ? /^(\S+)\n$/.exec(r.out)?.[1]
          : opts.allowToken === "header"
            ? /^Authorization: Bearer (\S+)\n$/.exec(r.out)?.[1]
            : (JSON.parse(r.out) as { access_token?: string }).access_token;
      expect(token, `${name}: stdout is the token and nothing else`).toBeTruthy();
      // It must be an access token we saw on the wire or in the store, not a refresh token or anything else.
      expect(secrets.kindOf(token ?? ""), `${name}: what stdout holds`).toBe("access token");
      allow.push(token ?? "");
    }
    cliTranscripts.push({ source: `${name} (stdout, exit ${r.code})`, text: r.out, allow });
    cliTranscripts.push({ source: `${name} (stderr, exit ${r.code})`, text: r.err });
    return r;
  }

  beforeAll(async () => {
    cliDir = join(dir, "cli");
    storeDir = join(cliDir, "store");
    configPath = join(cliDir, "xdg-config", "hpauth", "config.toml");
    await mkdir(join(cliDir, "home"), { recursive: true, mode: 0o700 });
    // Bundled from the current sources, like scripts/build.mjs does, but into a private directory: other test files
    // rebuild dist/ while this one runs.
    cli = join(cliDir, "cli.mjs");
    recorder = join(cliDir, "record-fetch.mjs");
    const banner = {
      js: "import { createRequire as __hpauthCreateRequire } from 'node:module'; const require = __hpauthCreateRequire(import.meta.url);",
    };
    const common = {
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "error",
      banner,
    } as const;
    await build({ ...common, entryPoints: [join(root, "src/cli/entry.ts")], outfile: cli });
    await build({ ...common, entryPoints: [join(root, "test/security/record-fetch.ts")], outfile: recorder });

    // The emulator as users run it: `hpauth emulate --json --verbose`, its stderr scanned like everything else.
    emuChild = spawn(process.execPath, [cli, "emulate", "--json", "--verbose"], {
      cwd: cliDir,
      env: { PATH: process.env.PATH ?? "", HOME: join(cliDir, "home") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    emuChild.stderr?.on("data", (c) => {
      emuErr += c;
    });
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line; stderr: ${emuErr.slice(0, 500)}`)), 15_000);
      emuChild.stdout?.on("data", (c) => {
        emuOut += c;
        const i = emuOut.indexOf("\n");
        if (i >= 0) {
          clearTimeout(timer);
          resolve(emuOut.slice(0, i));
        }
      });
      emuChild.on("exit", (code) => reject(new Error(`emulate exited ${code}: ${emuErr.slice(0, 500)}`)));
    });
    ready = JSON.parse(line);
    for (const p of PROVIDERS) {
      secrets.add("client secret", ready.providers[p].clientSecret);
      secrets.add("password", ready.providers[p].password);
    }
    const pr = ready.providers;
    secretEnv = {
      GL_SECRET: pr.greenlake.clientSecret ?? "",
      ID_SECRET: pr["hpe-identity"].clientSecret ?? "",
      WXP_PASSWORD: pr.wxp.password ?? "",
      ARUBA_SECRET: pr["aruba-central"].clientSecret ?? "",
      ARUBA_PASSWORD: pr["aruba-central"].password ?? "",
      TP_SECRET: pr.techpulse.clientSecret ?? "",
    };
  }, 60_000);

  afterAll(async () => {
    if (emuChild && emuChild.exitCode === null) {
      const exited = new Promise((r) => emuChild.once("exit", r));
      emuChild.kill("SIGTERM");
      await exited;
    }
  });

  // As in the engine block: each test scans what it printed (every run's stdout and stderr, the emulator's stderr
  // meanwhile, the store files as they are now) itself; the last test scans the whole run.
  const cliMark = { transcripts: 0, emuErr: 0 };
  const extraStoreDirs: string[] = [];
  beforeEach(() => {
    cliMark.transcripts = cliTranscripts.length;
    cliMark.emuErr = emuErr.length;
  });
  afterEach(async (ctx) => {
    if (!storeDir) return;
    const own: Transcript[] = [
      ...cliTranscripts.slice(cliMark.transcripts),
      { source: "hpauth emulate --json --verbose (stderr, this test)", text: emuErr.slice(cliMark.emuErr) },
      ...(await storeTranscripts(storeDir, "cli")),
    ];
    for (const d of extraStoreDirs) own.push(...(await storeTranscripts(d, `cli ${relative(cliDir, d)}`)));
    if (!ctx.task.name.startsWith("nothing secret") && !ctx.task.name.startsWith("the config file")) {
      expect(cliTranscripts.length, "this test ran the CLI").toBeGreaterThan(cliMark.transcripts);
    }
    const hits = scanAll(own, secrets);
    expect(formatHits(hits), `secrets found in the output of "${ctx.task.name}" (source, kind, fingerprint)`).toBe("");
  });

  const profilesAdd: Record<string, (p: Record<Emu, Record<string, string>>) => string[]> = {
    gl: (p) => [
      "--provider",
      "greenlake",
      "--base-url",
      p.greenlake.baseUrl!,
      "--client-id",
      p.greenlake.clientId!,
      "--client-secret-env",
      "GL_SECRET",
    ],
    id: (p) => [
      "--provider",
      "hpe-identity",
      "--base-url",
      p["hpe-identity"].baseUrl!,
      "--client-id",
      p["hpe-identity"].clientId!,
      "--client-secret-env",
      "ID_SECRET",
    ],
    tp: (p) => [
      "--provider",
      "techpulse",
      "--base-url",
      p.techpulse.baseUrl!,
      "--client-id",
      p.techpulse.clientId!,
      "--client-secret-env",
      "TP_SECRET",
      "--redirect-uri",
      p.techpulse.redirectUri!,
    ],
    wxp: (p) => [
      "--provider",
      "wxp",
      "--base-url",
      p.wxp.baseUrl!,
      "--username",
      p.wxp.username!,
      "--password-env",
      "WXP_PASSWORD",
    ],
    aruba: (p) => [
      "--provider",
      "aruba-central",
      "--base-url",
      p["aruba-central"].baseUrl!,
      "--client-id",
      p["aruba-central"].clientId!,
      "--client-secret-env",
      "ARUBA_SECRET",
      "--username",
      p["aruba-central"].username!,
      "--password-env",
      "ARUBA_PASSWORD",
      "--customer-id",
      p["aruba-central"].customerId!,
    ],
  };

  it("profiles add (secrets referenced, and one given through HPAUTH_CLIENT_SECRET without --save-secrets)", async () => {
    for (const [name, args] of Object.entries(profilesAdd)) {
      const r = await hpauth(["profiles", "add", name, ...args(ready.providers), "--non-interactive"]);
      expect(r.code, r.err).toBe(0);
    }
    // The secret arrives through the environment; without --save-secrets it must not be written to the file.
    const r = await hpauth(
      [
        "profiles",
        "add",
        "gl-env",
        "--provider",
        "greenlake",
        "--base-url",
        ready.providers.greenlake.baseUrl!,
        "--client-id",
        ready.providers.greenlake.clientId!,
        "--non-interactive",
      ],
      { env: { HPAUTH_CLIENT_SECRET: secretEnv.GL_SECRET ?? "" } },
    );
    expect(r.code, r.err).toBe(0);
  });

  it("token, header, --json, --force-refresh, status, inspect, profiles show, logout — every provider, --verbose", async () => {
    await Promise.all(
      ["gl", "id", "wxp", "aruba"].map(async (p) => {
        const ok = async (args: string[], opts: Parameters<typeof hpauth>[1] = {}) => {
          const r = await hpauth(args, opts);
          expect(r.code, `hpauth ${args.join(" ")}: ${r.err}`).toBe(0);
          return r;
        };
        await ok(["token", "-p", p, "--verbose"], { allowToken: "plain" });
        await ok(["token", "-p", p, "--json", "--verbose"], { allowToken: "json" });
        await ok(["header", "-p", p, "--verbose"], { allowToken: "header" });
        const t = await ok(["token", "-p", p, "--force-refresh", "--verbose"], { allowToken: "plain" });
        await ok(["inspect", "-p", p, "--verbose"]);
        await ok(["inspect", "--token", "-"], { stdin: t.out });
        await ok(["profiles", "show", p]);
      }),
    );
    // The --json twins once: same code paths per provider.
    await hpauth(["header", "-p", "aruba", "--json"], { allowToken: "json" });
    await hpauth(["inspect", "-p", "id", "--json"]);
    await hpauth(["profiles", "show", "aruba", "--json"]);
    await hpauth(["status", "--verbose"]);
    await hpauth(["status", "--json"]);
    await hpauth(["profiles", "list"]);
    await hpauth(["profiles", "show", "gl-env", "--json"]);
  });

  it("request, curl and exec: success, the 401 path (Identity's 401 bodies echo the token), an HTTP error", async () => {
    const admin = (path: string, body: unknown) =>
      fetch(new URL(path, ready.adminUrl), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const warranty = "/support/entitlement/v1/warrantyCheck/CZJ12345AB/P1234A?cc=US";
    const run = async (args: string[], code = 0) => {
      const r = await hpauth(args);
      expect(r.code, `hpauth ${args.join(" ")}: ${r.err}`).toBe(code);
      return r;
    };
    await run(["request", "-p", "id", "-v", "-i", warranty]);
    // Revoked ("Invalid access token: <token>") and then expired ("Access token expired: <token>"): each answered
    // 401 with the token in the body; each time one renewal and one retry.
    await admin("/revoke", { provider: "hpe-identity" });
    await run(["request", "-p", "id", "-v", warranty]);
    await admin("/clock/advance", { seconds: 4000 });
    await run(["request", "-p", "id", "-v", warranty]);
    await run(["request", "-p", "id", "/support/entitlement/v1/warrantyCheck/CZJ12345AB/P1234A"], 6); // no cc: 400
    await run(["request", "-p", "gl", "-v", "--paginate", "/api/v1/storage-systems?limit=1"]);
    await run(["request", "-p", "aruba", "-v", "/monitoring/v2/aps"]);
    await run(["curl", "-p", "gl", "-v", "--", "-sS", "-i", "/api/v1/storage-systems"]);
    await run([
      "exec",
      "-p",
      "aruba",
      "-v",
      "--",
      process.execPath,
      "-e",
      "process.exit(process.env.HPAUTH_TOKEN ? 0 : 9)",
    ]);
  });

  it("login --import of an Aruba token pair (stdin), then refreshes it", async () => {
    const files = await storeTranscripts(storeDir, "cli");
    const aruba = files
      .map((f) => {
        try {
          return JSON.parse(f.text) as { record?: { provider?: string; refreshToken?: string } };
        } catch {
          return undefined;
        }
      })
      .find((j) => j?.record?.provider === "aruba-central" && j.record.refreshToken);
    const refreshToken = aruba?.record?.refreshToken;
    expect(refreshToken, "the aruba profile's store file holds a refresh token").toBeTruthy();
    const base = profilesAdd.aruba!(ready.providers).filter(
      (_, i, a) =>
        !["--username", "--password-env"].includes(a[i] ?? "") &&
        !["--username", "--password-env"].includes(a[i - 1] ?? ""),
    );
    const flags = [...base, "--verbose"];
    // Both spellings: `--import -` (the issue's) and `--import-tokens`; the second imports the rotated token.
    const viaDash = await hpauth(["login", ...flags, "--import", "-"], {
      stdin: JSON.stringify({ refresh_token: refreshToken, token_type: "bearer" }),
    });
    expect(viaDash.code, viaDash.err).toBe(0);
    const rotated = (await storeTranscripts(storeDir, "cli"))
      .map((f) => /"refreshToken"\s*:\s*"([^"]+)"/.exec(f.text)?.[1])
      .find((v) => v && v !== refreshToken);
    const r = await hpauth(["login", ...flags, "--import-tokens", "--json"], {
      stdin: JSON.stringify({ refresh_token: rotated }),
    });
    expect(r.code, r.err).toBe(0);
    // A token file cut short: JSON.parse's message quotes the input it choked on; hpauth's must not.
    const cut = await hpauth(["login", ...flags, "--import", "-"], {
      stdin: `{"access_token": "${rotated}", "refresh_token": "${rotated}"`,
    });
    expect(cut.code).toBe(2);
    await hpauth(["login", ...flags, "--import", "-"], { stdin: JSON.stringify({ refresh_token: 42, x: rotated }) });
    await hpauth(["login", ...flags, "--import-tokens"], {
      stdin: JSON.stringify({ refresh_token: "bogus-refresh-token-cli-0123456789" }),
    });
    secrets.add("refresh token", "bogus-refresh-token-cli-0123456789");
  });

  it("techpulse: login --no-browser with paste-back (a wrong-state paste first), token, refresh", async () => {
    const tp = ready.providers.techpulse;
    let landed: URL | undefined;
    const r = await hpauth(["login", "-p", "tp", "--no-browser", "--verbose"], {
      interact: async (stderr, write) => {
        if (landed) return false;
        const m = /(https?:\/\/127\.0\.0\.1:\d+\/oauth\/v1\/authorize\?\S+)\s/.exec(stderr); // whole: a chunk may end mid-URL
        if (!m) return false;
        landed = await browse(new URL(m[1] ?? ""), tp.redirectUri ?? "", {
          username: tp.username ?? "",
          password: tp.password ?? "",
        });
        secrets.add("auth code", landed.searchParams.get("code"));
        // The real code under a forged state first: refused, and (the point here) not echoed back.
        const forged = new URL(landed);
        forged.searchParams.set("state", "forged-state-value-0123456789");
        write(`${forged.href}\n`);
        await new Promise((res) => setTimeout(res, 300));
        write(`${landed.href}\n`);
        return true;
      },
    });
    expect(r.code, r.err).toBe(0);
    expect(landed, "the authorization URL was printed on stderr").toBeDefined();
    await hpauth(["token", "-p", "tp", "--verbose"], { allowToken: "plain" });
    await hpauth(["token", "-p", "tp", "--force-refresh", "--verbose"], { allowToken: "plain" });
    await hpauth(["inspect", "-p", "tp"]);
  });

  it("a secret command that prints the secret and then fails: its output is not echoed", async () => {
    const r = await hpauth([
      "token",
      "--provider",
      "greenlake",
      "--base-url",
      ready.providers.greenlake.baseUrl!,
      "--client-id",
      ready.providers.greenlake.clientId!,
      "--client-secret-command",
      "printenv GL_SECRET; echo ' trailing'; exit 3",
      "--store",
      "memory",
      "--verbose",
    ]);
    expect(r.code).not.toBe(0);
    const r2 = await hpauth(
      ["token", "--provider", "wxp", "--base-url", ready.providers.wxp.baseUrl!, "--username", "u", "--verbose"],
      { env: { HPAUTH_PASSWORD_COMMAND: "printenv WXP_PASSWORD >&2; printenv WXP_PASSWORD; exit 1" } },
    );
    expect(r2.code).not.toBe(0);
  });

  it("failing runs: wrong secret, 503 faults, Aruba's login budget, revoked grant", async () => {
    const wrongSecret = "wrong-cli-secret-9d3e7a";
    secrets.add("client secret", wrongSecret);
    await hpauth(["logout", "-p", "gl", "--verbose"]);
    let r = await hpauth(["token", "-p", "gl", "--verbose"], { env: { GL_SECRET: wrongSecret } });
    expect(r.code).toBe(3);
    await hpauth(["token", "-p", "gl", "--json", "--verbose"], { env: { GL_SECRET: wrongSecret } });
    await admin("/faults", { provider: "hpe-identity", endpoint: "token", type: "status", status: 503, count: 20 });
    r = await hpauth(["token", "-p", "id", "--force-refresh", "--verbose"]);
    expect(r.code).toBe(5);
    await hpauth(["token", "-p", "id", "--force-refresh", "--json"]);
    await admin("/faults", undefined, "DELETE");
    await admin("/revoke", { provider: "aruba-central" });
    r = await hpauth(["token", "-p", "aruba", "--force-refresh", "--verbose"]);
    expect(r.code).toBe(4);
    await hpauth(["logout", "-p", "aruba", "--yes", "--verbose"]);
    r = await hpauth(["token", "-p", "aruba", "--json", "--verbose"]);
    expect(r.code).toBe(4);
    await admin("/faults", { provider: "wxp", endpoint: "token", type: "truncated", count: 20 });
    r = await hpauth(["token", "-p", "wxp", "--force-refresh", "--verbose"]);
    expect(r.code).toBe(5);
    await admin("/faults", undefined, "DELETE");
    await hpauth(["status", "--verbose"]);
    await hpauth(["status", "--json"]);
    await hpauth(["logout", "--all", "--yes", "--verbose"]);
  });

  it("servers echoing every secret of the request (echo fault): token, login and code endpoints, --verbose and --json", async () => {
    const advance = () => admin("/clock/advance", { seconds: 1801 });
    const echo = (provider: string, endpoint: string) =>
      admin("/faults", { provider, endpoint, type: "echo", count: 10 });
    const outputs: string[] = [];
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const r = await hpauth(args, { env });
      expect(r.code, r.err).not.toBe(0);
      expect(r.code, r.err).not.toBe(1);
      outputs.push(r.out, r.err);
      return r;
    };
    // Fresh stores, so no cached token or Aruba budget record stands between the request and its echo.
    const fresh = async (name: string) => {
      const d = join(cliDir, `echo-store-${name}`);
      await mkdir(d, { recursive: true, mode: 0o700 });
      extraStoreDirs.push(d);
      return { HPAUTH_STORE_DIR: d };
    };
    for (const p of ["gl", "id", "wxp"]) {
      const provider = { gl: "greenlake", id: "hpe-identity", wxp: "wxp" }[p]!;
      await echo(provider, "token");
      const env = await fresh(p);
      await run(["token", "-p", p, "--verbose"], env);
      await run(["token", "-p", p, "--json"], env);
      // status shows the stored last error: redacted when it was recorded.
      const s = await hpauth(["status", "-p", p, "--json"], { env });
      expect(s.code, s.err).toBe(0);
      outputs.push(s.out);
      await admin("/faults", undefined, "DELETE");
    }
    // Aruba: step 1 (password), step 2 (session cookie, CSRF), step 3 (code, client secret), each in a new window.
    for (const endpoint of ["login", "code", "token"]) {
      await advance();
      await echo("aruba-central", endpoint);
      await run(
        ["token", "-p", "aruba", endpoint === "token" ? "--json" : "--verbose"],
        await fresh(`aruba-${endpoint}`),
      );
      await admin("/faults", undefined, "DELETE");
    }
    // The echoed bodies did reach the messages (redacted): a redaction that stopped working would show here.
    expect(outputs.join("\n")).toMatch(/Rejected/);
  });

  it("demo, demo --json, demo --verbose (its own emulator, secrets learned from its wire)", async () => {
    const results = await Promise.all([hpauth(["demo"]), hpauth(["demo", "--json"]), hpauth(["demo", "--verbose"])]);
    for (const r of results) expect(r.code, r.err).toBe(0);
  });

  it("the config file written by `profiles add` holds no secret (none was given with --save-secrets)", async () => {
    const config = await readFile(configPath, "utf8");
    expect(config).toContain("[profiles.gl]");
    const hits = scanTranscript({ source: `config file ${relative(cliDir, configPath)}`, text: config }, secrets);
    expect(formatHits(hits), "secrets found in the config file (source, kind, fingerprint)").toBe("");
  });

  it("nothing secret in any stdout, stderr, the store files or the emulator's output", async () => {
    // Stop the emulator so its stderr is complete.
    const exited = new Promise((r) => emuChild.once("exit", r));
    emuChild.kill("SIGTERM");
    await exited;
    const demoCreds = PROVIDERS.flatMap((p) => [ready.providers[p].clientSecret, ready.providers[p].password]).filter(
      (s): s is string => !!s,
    );
    const transcripts: Transcript[] = [
      ...cliTranscripts,
      // The ready line exists to hand out the demo credentials: allowed there, and only there.
      { source: "hpauth emulate --json --verbose (stdout)", text: emuOut, allow: demoCreds },
      { source: "hpauth emulate --json --verbose (stderr)", text: emuErr },
      ...(await storeTranscripts(storeDir, "cli")),
    ];
    // The canary: `token`'s stdout without its allowance is a hit, so the scan knows the tokens the CLI handled.
    const tokenOut = cliTranscripts.find((t) => t.source.startsWith("hpauth token -p gl --verbose (stdout, exit 0"));
    expect(scanTranscript({ source: "canary", text: tokenOut?.text ?? "" }, secrets).map((h) => h.kind)).toEqual([
      "access token",
    ]);
    expect(emuErr.split("\n").length, "the emulator logged requests under --verbose").toBeGreaterThan(20);
    expect(secrets.values("csrf token").length).toBeGreaterThan(1);
    const hits = scanAll(transcripts, secrets);
    expect(formatHits(hits), "secrets found in CLI output or files (source, kind, fingerprint)").toBe("");
  });
});
