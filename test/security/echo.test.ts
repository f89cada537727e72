/**
 * Issue 13 item 2: server bodies that echo every secret of the request reach no output. The emulator's `echo` fault
 * answers with the request's Authorization (and a Basic header's decoded id:secret), Cookie, X-CSRF-Token and every
 * query, form and JSON value, bare and by name — as HPE Identity does with the token in its 401s. Each error path of
 * each provider is driven into it through the engine, and everything the library lets a program see of the failure
 * (message, hint, toJSON, String(err), util.inspect(err), stack, events, status(), the stored lastError) is scanned for
 * every secret that crossed the wire (learned by a recording fetch). The client id is not a secret (it is in URLs,
 * config files and `status`); it may appear, its secret may not.
 *
 * Each case also checks that the echoed body did reach the message (its "Rejected:" excerpt), so a redaction that
 * stopped working — `bodyExcerpt` returning the body as is — fails here.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, type FaultEndpoint, startEmulator } from "../../src/emulator/index.js";
import { isHpauthError } from "../../src/engine/errors.js";
import { createTokenManager } from "../../src/engine/manager.js";
import type { NamedProfile, ProviderId } from "../../src/engine/types.js";
import { FileTokenStore } from "../../src/stores/file.js";
import { emulatorUser } from "../engine/helpers.js";
import { formatHits, recordingFetch, SecretSet, scanAll, scanTranscript, type Transcript } from "./scanner.js";

type Emu = "techpulse" | "wxp" | "greenlake" | "aruba-central" | "hpe-identity";

let emu: Emulator;
let dir: string;
let offsetMs = 0;
const now = () => Date.now() + offsetMs;

beforeAll(async () => {
  emu = await startEmulator({ port: 0 });
  dir = await mkdtemp(join(tmpdir(), "hpauth-echo-"));
});
afterAll(async () => {
  await emu?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function profile(provider: Emu, extra: Partial<NamedProfile> = {}): NamedProfile {
  const info = emu.providers[provider];
  const p: NamedProfile = { name: `echo-${provider}`, provider: provider as ProviderId, baseUrl: info.baseUrl };
  if (info.clientId && provider !== "wxp") p.clientId = info.clientId;
  for (const k of ["clientSecret", "username", "password", "customerId", "redirectUri"] as const) {
    if (info[k]) p[k] = info[k];
  }
  return { ...p, ...extra };
}

/** A manager with its wire recorded into `secrets`, its events and store warnings captured. */
async function harness(label: string, provider: Emu, extra: Partial<NamedProfile> = {}) {
  const secrets = new SecretSet();
  const info = emu.providers[provider];
  secrets.add("client secret", info.clientSecret);
  secrets.add("password", info.password);
  const events: string[] = [];
  const warnings: string[] = [];
  const storeDir = join(dir, label);
  const store = new FileTokenStore({ dir: storeDir, onWarning: (m) => warnings.push(m) });
  const manager = createTokenManager({
    profile: profile(provider, extra),
    store,
    runtime: { now, fetch: recordingFetch((s) => secrets.add(s.kind, s.value)), sleep: async () => {}, env: {} },
    onEvent: (e) => events.push(JSON.stringify(e)),
    retry: { attempts: 2, timeoutMs: 2000, baseDelayMs: 1 },
    ...(provider === "techpulse" ? { authorizer: emulatorUser(emu, "techpulse") } : {}),
  });
  /**
   * Everything the library shows of `err` (when a call failed) and of the manager's state (events, status(), store
   * warnings and files), scanned; returns the message.
   */
  async function check(err?: unknown): Promise<string> {
    const failed = err !== undefined;
    if (failed) expect(isHpauthError(err), String(err)).toBe(true);
    const e = (err ?? { message: "", toJSON: () => ({}) }) as Error & { hint?: string; toJSON(): unknown };
    const files: Transcript[] = [];
    for (const name of await readdir(storeDir).catch(() => [] as string[])) {
      const text = await readFile(join(storeDir, name), "utf8").catch(() => "");
      for (const m of text.matchAll(/"(accessToken|refreshToken)"\s*:\s*"([^"]+)"/g)) {
        secrets.add(m[1] === "accessToken" ? "access token" : "refresh token", m[2]);
      }
      files.push({ source: `${label} store ${name}`, text, allowKinds: ["access token", "refresh token"] });
    }
    const transcripts: Transcript[] = [
      ...(failed
        ? [
            { source: `${label} message`, text: e.message },
            { source: `${label} hint`, text: e.hint ?? "" },
            { source: `${label} toJSON`, text: JSON.stringify(e.toJSON()) },
            { source: `${label} JSON.stringify`, text: JSON.stringify(e) },
            { source: `${label} String`, text: String(e) },
            { source: `${label} inspect`, text: inspect(e, { depth: 8 }) },
            { source: `${label} stack`, text: e.stack ?? "" },
          ]
        : []),
      { source: `${label} events`, text: events.join("\n") },
      { source: `${label} store warnings`, text: warnings.join("\n") },
      { source: `${label} status()`, text: JSON.stringify(await manager.status()) },
      ...files,
    ];
    expect(formatHits(scanAll(transcripts, secrets)), `secrets in ${label}'s output`).toBe("");
    return e.message;
  }
  return { manager, secrets, check, store };
}

async function fault(provider: Emu, endpoint: FaultEndpoint, count = 10) {
  await emu.admin.clearFaults();
  await emu.admin.fault({ provider, endpoint, type: "echo", count });
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
}

describe("the echo fault", () => {
  it("repeats the request's secrets (so the tests below test what they claim)", async () => {
    await fault("hpe-identity", "token", 1);
    const info = emu.providers["hpe-identity"];
    const res = await fetch(`${info.baseUrl}/services/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${info.clientId}:${info.clientSecret}`).toString("base64")}`,
        cookie: "session=cookie-value-123456",
        "x-csrf-token": "csrf-value-1234567",
      },
      body: new URLSearchParams({ grant_type: "client_credentials", refresh_token: "rt-value-123456789" }),
    });
    expect(res.status).toBe(401);
    const text = await res.text();
    for (const v of [info.clientSecret!, "cookie-value-123456", "csrf-value-1234567", "rt-value-123456789"]) {
      expect(text).toContain(v);
    }
    const secrets = new SecretSet();
    secrets.add("client secret", info.clientSecret);
    expect(scanTranscript({ source: "echo body", text }, secrets).length).toBeGreaterThan(0);
    expect(JSON.parse(text).error_description).toMatch(/^Rejected: /);
  });
});

describe("server bodies echoing every secret in flight never reach the library's output", () => {
  it.each<[Emu, FaultEndpoint]>([
    ["greenlake", "token"],
    ["hpe-identity", "token"],
    ["wxp", "token"],
  ])("%s %s endpoint (client credentials / password grant)", async (provider, endpoint) => {
    const h = await harness(`${provider}-${endpoint}`, provider);
    await fault(provider, endpoint);
    const message = await h.check(await failure(h.manager.getToken()));
    expect(message).toMatch(/Rejected/);
  });

  it("greenlake with client_secret_basic (the secret in the Authorization header)", async () => {
    const h = await harness("greenlake-basic", "greenlake", { clientAuth: "client_secret_basic" });
    await fault("greenlake", "token");
    expect(await h.check(await failure(h.manager.getToken()))).toMatch(/Rejected/);
    expect(h.secrets.values("basic credentials").length).toBeGreaterThan(0);
  });

  it("techpulse: the code exchange, then the refresh (refresh token + Basic client secret)", async () => {
    const code = await harness("techpulse-code", "techpulse");
    await fault("techpulse", "token");
    expect(await code.check(await failure(code.manager.getToken()))).toMatch(/Rejected/);
    expect(code.secrets.values("auth code").length).toBeGreaterThan(0);

    const refresh = await harness("techpulse-refresh", "techpulse");
    await emu.admin.clearFaults();
    await refresh.manager.getToken();
    // Only the refresh is echoed; the re-login that follows a dead grant is refused at the browser step.
    await fault("techpulse", "token", 1);
    await emu.admin.fault({ provider: "techpulse", endpoint: "authorize", type: "status", status: 503, count: 10 });
    const err = await failure(refresh.manager.getToken({ forceRefresh: true }));
    await refresh.check(err);
    expect(refresh.secrets.values("refresh token").length).toBeGreaterThan(0);
    await emu.admin.clearFaults();
  });

  it("aruba-central: step 1 (password), step 2 (session cookie + CSRF), step 3 (code + secret), refresh", async () => {
    const budgetWindow = async () => {
      offsetMs = (await emu.admin.advanceClock(1801)).offsetSeconds * 1000;
    };
    const messages: string[] = [];
    for (const endpoint of ["login", "code", "token"] as const) {
      await budgetWindow();
      const h = await harness(`aruba-${endpoint}`, "aruba-central");
      await fault("aruba-central", endpoint);
      messages.push(await h.check(await failure(h.manager.getToken())));
    }
    expect(messages.join("\n")).toMatch(/Rejected/);
    // The refresh: the secret and the refresh token in the query string.
    await emu.admin.clearFaults();
    await budgetWindow();
    const h = await harness("aruba-refresh", "aruba-central");
    await h.manager.getToken();
    await fault("aruba-central", "token", 1);
    const err = await failure(h.manager.getToken({ forceRefresh: true }));
    await h.check(err);
    expect(h.secrets.values("refresh token").length).toBeGreaterThan(0);
    expect(h.secrets.values("session cookie").length).toBeGreaterThan(0);
    expect(h.secrets.values("csrf token").length).toBeGreaterThan(0);
    await emu.admin.clearFaults();
  });

  it.each<Emu>(["greenlake", "hpe-identity", "wxp", "aruba-central"])(
    "%s API endpoint: a 401 echoing the access token, twice (refreshed once, then handed back)",
    async (provider) => {
      await emu.admin.clearFaults();
      offsetMs = (await emu.admin.advanceClock(1801)).offsetSeconds * 1000;
      const h = await harness(`${provider}-api`, provider);
      await h.manager.getToken();
      await fault(provider, "api", 2);
      const path: Record<string, string> = {
        greenlake: "/api/v1/storage-systems",
        "hpe-identity": "/support/entitlement/v1/warrantyCheck/SGH123/P123?cc=US&hsl=true",
        wxp: "/api/v1/collaboration/rooms",
        "aruba-central": "/monitoring/v2/aps",
      };
      const res = await h.manager.fetch(path[provider]!);
      expect(res.status).toBe(401);
      // The body is the caller's to read; what the engine itself said about it (events, status) holds no secret.
      await h.check();
      await emu.admin.clearFaults();
    },
  );
});
