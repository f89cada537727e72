/**
 * Property-based fuzz targets (fast-check) for every parser that takes outside input. The property for each: no
 * input makes it throw anything but an HpauthError (or the documented TypeError of decodeZipAuthorities), and what
 * it returns is usable (every instant printable, every record valid again). Shared by the short seeded run in the
 * suite (test/fuzz/parsers.test.ts) and the long run (`npm run fuzz`, scripts/fuzz.mjs).
 *
 * Token responses go through the whole engine (TokenManager → provider → http.ts → persist → tokenJson) with the
 * platform `fetch` replaced by one that answers fuzzed responses: fetch is the injected boundary, everything of
 * ours runs as in production. Sleeps are injected as no-ops so retries cost nothing.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { parseGitCredentialInput } from "../../src/cli/commands/git-credential.js";
import { runInspect } from "../../src/cli/commands/inspect.js";
import { runStatus } from "../../src/cli/commands/status.js";
import { tokenJson } from "../../src/cli/commands/token.js";
import { formatWhen } from "../../src/cli/time.js";
import {
  azJson,
  bazelJson,
  envLines,
  execCredentialJson,
  execCredentialRequest,
  headerLine,
  parseBazelRequest,
} from "../../src/cli/token-formats.js";
import { parseConfigText } from "../../src/config/parse.js";
import { resolveProfile } from "../../src/config/resolve.js";
import { clampTimeMs, isTimeMs, rfc3339 } from "../../src/engine/dates.js";
import { HpauthError, isHpauthError } from "../../src/engine/errors.js";
import {
  decodeJwtToken,
  decodeZipAuthorities,
  flagGBlockedContracts,
  isGBlockedStatus,
} from "../../src/engine/inspect.js";
import { jwtExpiry } from "../../src/engine/jwt.js";
import { judgeCallback } from "../../src/engine/login/callback.js";
import { parseImportedTokens } from "../../src/engine/login/import.js";
import { parsePasted } from "../../src/engine/login/paste.js";
import { newState, SingleUseState } from "../../src/engine/login/state.js";
import { createTokenManager } from "../../src/engine/manager.js";
import { credentialKey, loginBudgetKey, validateProfile } from "../../src/engine/profile.js";
import type { AccessToken, NamedProfile, ProviderId } from "../../src/engine/types.js";
import { FileTokenStore } from "../../src/stores/file.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { checkRecord } from "../../src/stores/record.js";
import type { TokenRecord } from "../../src/stores/types.js";

/** A property violation: what the fuzz run counts as a crash. */
export class Crash extends Error {}

export interface FuzzTarget<T = unknown> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  /** Resolves when the property holds; throws (a Crash or whatever escaped) when it does not. */
  run(input: T): Promise<void> | void;
  /** Optional per-run resources (temp dirs). */
  setup?(): void;
  teardown?(): void;
}

let firstOutcome: string | undefined;
/**
 * What the first guarded call of the last case came to: "ok" or the HpauthError's code. The long run tallies these
 * per target, to show the inputs reach the success paths and not only the refusals.
 */
export function takeOutcome(): string | undefined {
  const o = firstOutcome;
  firstOutcome = undefined;
  return o;
}

/** Only an HpauthError may escape a parser; anything else is a crash (exit 1, "this is a bug"). */
async function onlyHpauthErrors<R>(fn: () => R | Promise<R>): Promise<R | undefined> {
  try {
    const r = await fn();
    firstOutcome ??= "ok";
    return r;
  } catch (e) {
    if (isHpauthError(e)) {
      firstOutcome ??= e.code;
      // An HpauthError must itself be printable: message, toJSON (retry_at), String().
      JSON.stringify(e.toJSON());
      String(e);
      return undefined;
    }
    throw e;
  }
}

function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Crash(message);
}

// ---- shared arbitraries --------------------------------------------------------------------------------------

const EDGE_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  299,
  1800,
  1799999,
  2 ** 31,
  2 ** 53,
  8.64e12,
  8.64e15,
  1e20,
  -1e20,
  1e308,
  -1e308,
];
export const weirdNumber = fc.oneof(
  fc.constantFrom(...EDGE_NUMBERS),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.nat({ max: 10_000 }),
);
const weirdString = fc.oneof(
  fc.string(),
  fc.constantFrom("", " ", "3600", "1e20", "-1", "bearer", "Bearer", "mac", "null", "NaN", "Infinity", "\u0000", "é"),
  fc.string({ unit: "grapheme" }),
);
export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: weirdNumber },
  { weight: 3, arbitrary: weirdString },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, undefined) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

const b64url = (s: string) => Buffer.from(s, "utf8").toString("base64url");

/** Compact JWS strings: mostly well-formed with fuzzed claims, sometimes broken segments. */
export const jwtArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.record(
          { alg: fc.oneof(fc.constantFrom("RS256", "none", "HS256"), weirdValue), typ: weirdValue, kid: weirdValue },
          { requiredKeys: [] },
        ),
        fc.record(
          {
            exp: weirdValue,
            iat: weirdValue,
            nbf: weirdValue,
            auth_time: weirdValue,
            sub: weirdValue,
            scope: weirdValue,
            zip_authorities: fc.oneof(weirdString, zipArbitrary()),
          },
          { requiredKeys: [] },
        ),
        fc.oneof(fc.constant("c2ln"), fc.base64String(), fc.constant("")),
      )
      .map(([h, c, s]) => `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(c))}.${s}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.string(),
          fc.base64String(),
          fc.constant("eyJ"),
          fc.jsonValue().map((v) => b64url(JSON.stringify(v) ?? "")),
        ),
        {
          minLength: 1,
          maxLength: 5,
        },
      )
      .map((parts) => parts.join(".")),
  },
);

function zipArbitrary(): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v) ?? "null"),
        fc.string(),
      ),
      fc.oneof(fc.constant(-1), fc.nat({ max: 64 })),
    )
    .map(([text, cut]) => {
      const z = gzipSync(Buffer.from(text, "utf8"));
      return (cut < 0 ? z : z.subarray(0, cut)).toString("base64");
    });
}

// ---- token responses, through the engine -------------------------------------------------------------------

interface FuzzedResponse {
  status: number;
  contentType: string | undefined;
  retryAfter: string | undefined;
  body: string;
  setCookie: boolean;
}

const tokenBody = fc.record(
  {
    access_token: fc.oneof({ weight: 3, arbitrary: jwtArb }, { weight: 1, arbitrary: weirdValue }),
    token_type: fc.oneof(fc.constantFrom("Bearer", "bearer"), weirdValue),
    expires_in: weirdValue,
    refresh_token: fc.oneof(fc.string({ minLength: 1 }), weirdValue),
    refresh_expires_in: weirdValue,
    scope: weirdValue,
    id_token: fc.oneof(jwtArb, weirdValue),
    error: fc.oneof(fc.constantFrom("invalid_grant", "invalid_client", "access_denied", "server_error"), weirdValue),
    error_description: weirdValue,
    auth_code: weirdValue,
    "not-before-policy": weirdValue,
    cc_id: weirdValue,
    zip_authorities: fc.oneof(zipArbitrary(), weirdValue),
  },
  { requiredKeys: [] },
);

/** A good token response with one field replaced by a fuzzed value (or removed): reaches the success paths. */
const nearlyValidBody = fc
  .tuple(
    jwtArb,
    fc.constantFrom("access_token", "token_type", "expires_in", "refresh_token", "scope", "id_token", "extra"),
    fc.oneof(weirdValue, fc.constant(undefined)),
  )
  .map(([jwt, field, value]) => {
    const body: Record<string, unknown> = {
      access_token: jwt,
      token_type: "Bearer",
      expires_in: 3600,
      refresh_token: "fuzz-rotated-refresh-token",
      scope: "offline_access",
    };
    body[field] = value;
    return JSON.stringify(body);
  });

const responseArb: fc.Arbitrary<FuzzedResponse> = fc.record({
  status: fc.oneof(
    { weight: 4, arbitrary: fc.constant(200) },
    { weight: 2, arbitrary: fc.constantFrom(201, 204, 302, 400, 401, 403, 404, 429, 500, 502, 503, 504) },
    { weight: 1, arbitrary: fc.integer({ min: 200, max: 599 }) },
  ),
  contentType: fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "text/html",
    "text/plain",
    "application/problem+json",
    undefined,
  ),
  retryAfter: fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constantFrom(
          "0",
          "1",
          "99999999999999",
          `1${"0".repeat(400)}`,
          "Wed, 21 Oct 2015 07:28:00 GMT",
          "Fri, 31 Dec 275759 00:00:00 GMT",
          "-5",
          "soon",
        ),
        fc.nat().map(String),
        fc.string(),
      ),
    },
  ),
  body: fc.oneof(
    { weight: 6, arbitrary: nearlyValidBody },
    { weight: 6, arbitrary: tokenBody.map((b) => JSON.stringify(b)) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v) ?? "") },
    { weight: 1, arbitrary: fc.string() },
    { weight: 1, arbitrary: tokenBody.chain((b) => fc.nat().map((n) => JSON.stringify(b).slice(0, n))) },
    { weight: 1, arbitrary: fc.constant("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>") },
  ),
  setCookie: fc.boolean(),
});

const BASE = "https://fuzz.invalid";
const NOW = 1_780_000_000_000;

const PROFILES: Record<ProviderId, NamedProfile> = {
  techpulse: {
    name: "fz",
    provider: "techpulse",
    baseUrl: BASE,
    clientId: "fuzz-client",
    clientSecret: "fuzz-secret-tp",
  },
  wxp: { name: "fz", provider: "wxp", baseUrl: BASE, username: "fuzz-user", password: "fuzz-password" },
  greenlake: {
    name: "fz",
    provider: "greenlake",
    baseUrl: BASE,
    clientId: "fuzz-client",
    clientSecret: "fuzz-secret-gl",
  },
  "aruba-central": {
    name: "fz",
    provider: "aruba-central",
    baseUrl: BASE,
    clientId: "fuzz-client",
    clientSecret: "fuzz-secret-ar",
    username: "fuzz-user",
    password: "fuzz-password",
    customerId: "fuzz-customer",
  },
  "hpe-identity": {
    name: "fz",
    provider: "hpe-identity",
    baseUrl: BASE,
    clientId: "fuzz-client",
    clientSecret: "fuzz-secret-id",
  },
  "greenlake-platform": {
    name: "fz",
    provider: "greenlake-platform",
    baseUrl: BASE,
    clientId: "fuzz-client",
    clientSecret: "fuzz-secret-glp",
    workspaceId: "0123456789abcdef0123456789abcdef",
  },
  "new-central": {
    name: "fz",
    provider: "new-central",
    baseUrl: BASE,
    clientId: "fuzz-client",
    clientSecret: "fuzz-secret-nc",
    workspaceId: "0123456789abcdef0123456789abcdef",
  },
  oauth2: {
    name: "fz",
    provider: "oauth2",
    tokenUrl: `${BASE}/token`,
    clientId: "fuzz-client",
    clientSecret: "fuzz-secret-o2",
    scope: "offline_access",
  },
};

function toResponse(r: FuzzedResponse, url: URL): Response {
  const headers = new Headers();
  if (r.contentType) headers.set("content-type", r.contentType);
  if (r.retryAfter !== undefined) {
    try {
      headers.set("retry-after", r.retryAfter);
    } catch {
      /* not a valid header value: a real server could not send it either */
    }
  }
  // Aruba's step 1 answers with cookies; without them step 2 is never reached.
  if (r.setCookie && url.pathname.endsWith("/api/login")) {
    headers.append("set-cookie", "session=fuzz-session; Path=/; HttpOnly");
    headers.append("set-cookie", "csrftoken=fuzz-csrf; Path=/");
  }
  const noBody = r.status === 204 || r.status === 304;
  return new Response(noBody ? null : r.body, { status: r.status, headers });
}

function tokenTarget(provider: ProviderId): FuzzTarget<{ responses: FuzzedResponse[]; stored: boolean }> {
  return {
    name: `token-response:${provider}`,
    arbitrary: fc.record({ responses: fc.array(responseArb, { minLength: 1, maxLength: 4 }), stored: fc.boolean() }),
    async run({ responses, stored }) {
      let i = 0;
      const fetch: typeof globalThis.fetch = async (input) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        const r = responses[Math.min(i++, responses.length - 1)]!;
        return toResponse(r, url);
      };
      const store = new MemoryTokenStore();
      const manager = createTokenManager({
        profile: PROFILES[provider],
        store,
        runtime: { fetch, now: () => NOW, sleep: async () => {}, env: {} },
        retry: { attempts: 2, baseDelayMs: 0, maxDelayMs: 0, timeoutMs: 5_000 },
        authorizer: async (req) => ({
          code: "fuzz-code",
          redirectUri: req.redirectUri ?? "http://127.0.0.1:1/callback",
        }),
        secretCommandTimeoutMs: 1_000,
      });
      if (stored) {
        // An expired access token and a refresh token: the refresh path (Aruba, TechPulse, oauth2).
        await store.set(manager.key, {
          v: 1,
          provider,
          accessToken: "old-access",
          expiresAt: NOW - 1000,
          obtainedAt: NOW - 3_600_000,
          refreshToken: "fuzz-refresh-token",
          updatedAt: NOW - 3_600_000,
        });
      }
      const token = await onlyHpauthErrors(() => manager.getToken());
      if (token) {
        assert(isTimeMs(token.expiresAt.getTime()), `expiresAt ${token.expiresAt.getTime()} is no printable time`);
        const json = tokenJson(token, NOW);
        assert(typeof json.expires_at === "string", "tokenJson has no expires_at");
        formatWhen(token.expiresAt, NOW);
      }
      // Whatever happened, status (what `hpauth status` shows) must work on what was stored.
      const s = await onlyHpauthErrors(() => manager.status());
      if (s?.expiresAt) assert(rfc3339(s.expiresAt), "status expiresAt is no printable time");
      const rec = await store.get(manager.key);
      if (rec)
        assert(checkRecord(JSON.parse(JSON.stringify(rec))).kind === "ok", "the engine stored an invalid record");
    },
  };
}

// ---- JWTs, zip_authorities, G-blocked contracts -------------------------------------------------------------

function captureIo(stdinText = "") {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = "";
  stdout.on("data", (c) => {
    out += c;
  });
  stderr.resume();
  stdin.end(stdinText);
  const controller = new AbortController();
  return {
    io: { stdout, stderr, stdin, stdinIsTTY: false, stderrIsTTY: false, env: {}, signal: controller.signal },
    out: () => out,
  };
}

const jwtTarget: FuzzTarget<string> = {
  name: "jwt",
  arbitrary: jwtArb,
  async run(token) {
    const decoded = decodeJwtToken(token);
    if (decoded?.expiresAt) assert(isTimeMs(decoded.expiresAt.getTime()), "decodeJwtToken gave an unprintable exp");
    if (decoded?.issuedAt) assert(isTimeMs(decoded.issuedAt.getTime()), "decodeJwtToken gave an unprintable iat");
    const exp = jwtExpiry(token);
    assert(exp === undefined || Number.isFinite(exp), "jwtExpiry gave a non-finite number");
    // `hpauth inspect --token -` and `--json`, in process: the CLI's own rendering.
    for (const json of [false, true]) {
      const c = captureIo(token);
      await onlyHpauthErrors(() => runInspect({ token: "-", json, quiet: true } as never, c.io as never));
      if (json && c.out()) JSON.parse(c.out());
    }
  },
};

const zipTarget: FuzzTarget<string> = {
  name: "zip_authorities",
  arbitrary: fc.oneof(zipArbitrary(), fc.string(), fc.base64String()),
  run(value) {
    try {
      const out = decodeZipAuthorities(value);
      JSON.stringify(out);
    } catch (e) {
      // Documented: a TypeError when the value is not base64 gzip.
      if (!(e instanceof TypeError && e.message.includes("zip_authorities"))) throw e;
    }
  },
};

const SUPPORT_KEYS = ["Highest Support Level", "highestSupportLevel", "highest_support_level", "hsl"];
const contractArb = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      "Contract Status",
      "contractStatus",
      "contract_status",
      "ContractStatus",
      "status",
      ...SUPPORT_KEYS,
    ),
    fc.string(),
  ),
  fc.oneof(
    fc.constantFrom("Active", "G", "Active,G", "A G", "g", "Active|G", ""),
    fc.array(fc.constantFrom("Active", "G", "X")),
    weirdValue,
  ),
);

const contractsTarget: FuzzTarget<Record<string, unknown>[]> = {
  name: "g-blocked-contracts",
  arbitrary: fc.array(contractArb, { maxLength: 8 }),
  run(contracts) {
    const out = flagGBlockedContracts(contracts);
    assert(out.length === contracts.length, "flagGBlockedContracts changed the number of contracts");
    for (const c of out) {
      assert(c.deliverable === !c.gBlocked, "deliverable and gBlocked disagree");
      if (c.gBlocked) for (const k of SUPPORT_KEYS) assert(!(k in c), `a G-blocked contract kept ${k}`);
    }
    for (const c of contracts) for (const v of Object.values(c)) if (typeof v === "string") isGBlockedStatus(v);
  },
};

// ---- store records: the validator and the file store's parsing --------------------------------------------

const TIME_KEYS = ["expiresAt", "obtainedAt", "updatedAt", "refreshTokenIssuedAt", "lastRefreshAt", "lastLoginAt"];
const recordArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        v: fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: weirdValue }),
        provider: fc.oneof(
          { weight: 5, arbitrary: fc.constantFrom("aruba-central", "techpulse", "wxp") },
          { weight: 1, arbitrary: weirdValue },
        ),
        profile: fc.oneof(fc.constant("p"), weirdValue),
        accessToken: fc.oneof({ weight: 3, arbitrary: fc.constant("at-fuzz") }, { weight: 1, arbitrary: weirdValue }),
        tokenType: fc.oneof(fc.constant("Bearer"), weirdValue),
        refreshToken: fc.oneof({ weight: 3, arbitrary: fc.constant("rt-fuzz") }, { weight: 1, arbitrary: weirdValue }),
        scope: weirdValue,
        meta: fc.oneof(fc.dictionary(fc.string(), weirdValue), weirdValue),
        lastError: fc.oneof(
          fc.record({ code: weirdValue, message: weirdValue, at: weirdValue }, { requiredKeys: [] }),
          weirdValue,
        ),
        ...Object.fromEntries(
          TIME_KEYS.map((k) => [
            k,
            fc.oneof({ weight: 2, arbitrary: fc.integer({ min: 0, max: 4e12 }) }, { weight: 1, arbitrary: weirdValue }),
          ]),
        ),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue() },
);

function checkUsable(rec: TokenRecord) {
  const again = checkRecord(JSON.parse(JSON.stringify(rec)));
  assert(again.kind === "ok", `a salvaged record is not valid: ${JSON.stringify(again)}`);
  for (const k of TIME_KEYS) {
    const v = (rec as unknown as Record<string, unknown>)[k];
    if (v !== undefined) assert(isTimeMs(v), `${k} survived validation unprintable`);
  }
  if (rec.lastError) assert(isTimeMs(rec.lastError.at), "lastError.at survived validation unprintable");
}

const recordTarget: FuzzTarget<unknown> = {
  name: "store-record",
  arbitrary: recordArb,
  async run(value) {
    const checked = checkRecord(value);
    if (checked.kind !== "corrupt") checkUsable(checked.record);
    // Through a memory store and the manager's status, as `hpauth status` reads it.
    const store = new MemoryTokenStore();
    const manager = createTokenManager({
      profile: PROFILES["aruba-central"],
      store,
      runtime: { now: () => NOW, env: {} },
    });
    await store.set(manager.key, value as TokenRecord);
    const rec = await onlyHpauthErrors(() => withoutWarnings(() => store.get(manager.key)));
    if (rec) checkUsable(rec);
    await onlyHpauthErrors(() => withoutWarnings(() => manager.status()));
  },
};

/** process.emitWarning from the memory store would print 100 000 lines in the long run. */
async function withoutWarnings<R>(fn: () => Promise<R>): Promise<R> {
  const original = process.emitWarning;
  process.emitWarning = (() => {}) as typeof process.emitWarning;
  try {
    return await fn();
  } finally {
    process.emitWarning = original;
  }
}

const VALID_FILE = JSON.stringify({
  v: 1,
  key: "fuzz-key",
  record: { v: 1, provider: "aruba-central", accessToken: "at", expiresAt: NOW, refreshToken: "rt", updatedAt: NOW },
});

let fileDir: string | undefined;
const fileStoreTarget: FuzzTarget<string> = {
  name: "file-store",
  arbitrary: fc.oneof(
    { weight: 3, arbitrary: recordArb.map((record) => JSON.stringify({ v: 1, key: "fuzz-key", record })) },
    {
      weight: 1,
      arbitrary: fc
        .jsonValue()
        .map((v) => JSON.stringify({ v: 1, key: "fuzz-key", record: v, ...((v as object) ?? {}) })),
    },
    // Byte-level damage to a valid file: truncation, a flipped character, junk appended.
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.nat({ max: VALID_FILE.length }), fc.string({ maxLength: 8 }), fc.nat({ max: 2 }))
        .map(([at, junk, how]) =>
          how === 0
            ? VALID_FILE.slice(0, at)
            : how === 1
              ? VALID_FILE.slice(0, at) + junk + VALID_FILE.slice(at + 1)
              : VALID_FILE + junk,
        ),
    },
    { weight: 1, arbitrary: fc.string() },
  ),
  setup() {
    fileDir = mkdtempSync(join(tmpdir(), "hpauth-fuzz-store-"));
  },
  teardown() {
    if (fileDir) rmSync(fileDir, { recursive: true, force: true });
    fileDir = undefined;
  },
  async run(text) {
    if (!fileDir) this.setup?.();
    const dir = fileDir as string;
    const store = new FileTokenStore({ dir, onWarning: () => {} });
    const file = store.fileFor("fuzz-key");
    writeFileSync(file, text, { mode: 0o600 });
    const rec = await onlyHpauthErrors(() => store.get("fuzz-key"));
    if (rec) checkUsable(rec);
    await onlyHpauthErrors(() => store.list());
  },
};

/** `hpauth status` (human and --json) in process, over a store file holding the fuzzed record. */
let statusDir: string | undefined;
const RFC3339_KEYS = /"(expires_at|last_refresh_at|last_login_at|next_login_allowed_at|at)":"([^"]*)"/g;
const statusTarget: FuzzTarget<{ record: unknown; budget: unknown; json: boolean }> = {
  name: "status-command",
  arbitrary: fc.record({
    record: recordArb,
    budget: fc.oneof(fc.constant(undefined), recordArb),
    json: fc.boolean(),
  }),
  setup() {
    statusDir = mkdtempSync(join(tmpdir(), "hpauth-fuzz-status-"));
  },
  teardown() {
    if (statusDir) rmSync(statusDir, { recursive: true, force: true });
    statusDir = undefined;
  },
  async run({ record, budget, json }) {
    if (!statusDir) this.setup?.();
    const dir = statusDir as string;
    const p = PROFILES["aruba-central"];
    const store = new FileTokenStore({ dir, onWarning: () => {} });
    const key = credentialKey(validateProfile(p));
    writeFileSync(store.fileFor(key), JSON.stringify({ v: 1, key, record }), { mode: 0o600 });
    const budgetKey = loginBudgetKey(validateProfile(p));
    if (budget === undefined) rmSync(store.fileFor(budgetKey), { force: true });
    else
      writeFileSync(store.fileFor(budgetKey), JSON.stringify({ v: 1, key: budgetKey, record: budget }), {
        mode: 0o600,
      });
    const c = captureIo();
    // The same credential as `p` (same key), its secrets by environment variable as a user would give them.
    const fields = {
      provider: p.provider,
      baseUrl: p.baseUrl,
      clientId: p.clientId,
      username: p.username,
      customerId: p.customerId,
      clientSecretEnv: "FZ_SECRET",
      passwordEnv: "FZ_PASSWORD",
    };
    const options = { json, verbose: false, quiet: true, color: false, storeDir: dir, fields };
    const env = {
      XDG_CONFIG_HOME: join(dir, "no-config"),
      HOME: join(dir, "no-home"),
      FZ_SECRET: "s",
      FZ_PASSWORD: "p",
    };
    const io = { ...c.io, env };
    await onlyHpauthErrors(() => runStatus(options as never, io as never));
    // The row must be about the record, not a profile the harness got wrong.
    if (json) assert(!c.out().includes('"state":"invalid","warnings":[],"last_error":{"code":"CONFIG'), c.out());
    if (json && c.out()) {
      const text = c.out();
      JSON.parse(text);
      for (const m of text.matchAll(RFC3339_KEYS)) {
        assert(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(m[2] ?? ""), `status --json ${m[1]} = ${m[2]}`);
      }
    }
  },
};

// ---- config files --------------------------------------------------------------------------------------------

const FIELD_KEYS = [
  "provider",
  "base_url",
  "baseUrl",
  "client_id",
  "client_secret",
  "client_secret_env",
  "client_secret_command",
  "region",
  "username",
  "password_env",
  "customer_id",
  "scope",
  "token_url",
  "issuer",
  "grant_type",
  "client_auth",
  "callback_port",
  "token_params",
  "client_secret_created_at",
  "pkce",
  "redirect_uri",
];
const profileArb = fc.dictionary(
  fc.oneof(fc.constantFrom(...FIELD_KEYS), fc.string()),
  fc.oneof(
    fc.constantFrom(
      "greenlake",
      "aruba-central",
      "oauth2",
      "https://sso.example.com",
      "http://127.0.0.1:1",
      "us1",
      "EU-1",
    ),
    weirdValue,
    fc.dictionary(fc.string(), weirdValue),
  ),
);
/** A valid profile with one field replaced by a fuzzed value (or removed): reaches resolution and validation. */
const nearlyValidProfile = fc
  .tuple(fc.constantFrom(...FIELD_KEYS), fc.oneof(weirdValue, fc.constant(undefined)), fc.boolean())
  .map(([field, value, aruba]) => {
    const profile: Record<string, unknown> = aruba
      ? {
          provider: "aruba-central",
          region: "EU-1",
          client_id: "cid",
          client_secret_env: "X_SECRET",
          username: "u",
          password_env: "X_PASSWORD",
          customer_id: "c",
        }
      : { provider: "greenlake", region: "us1", client_id: "cid", client_secret_env: "X_SECRET" };
    if (value === undefined) delete profile[field];
    else profile[field] = value;
    return profile;
  });

const configDocArb = fc.record(
  {
    default_profile: fc.oneof({ weight: 2, arbitrary: fc.constant("a") }, { weight: 1, arbitrary: weirdValue }),
    profiles: fc.oneof(
      {
        weight: 3,
        arbitrary: fc
          .tuple(nearlyValidProfile, fc.option(nearlyValidProfile))
          .map(([a, b]) => (b ? { a, "c d": b } : { a })),
      },
      { weight: 2, arbitrary: fc.dictionary(fc.constantFrom("a", "b", "c d", ""), profileArb) },
      { weight: 1, arbitrary: weirdValue },
    ),
    emulator: weirdValue,
  },
  { requiredKeys: ["profiles"] },
);

async function serialise(doc: unknown, format: "toml" | "yaml" | "json"): Promise<string> {
  if (format === "json") return JSON.stringify(doc) ?? "";
  try {
    if (format === "yaml") return (await import("yaml")).stringify(doc);
    return (await import("smol-toml")).stringify(doc as Record<string, unknown>);
  } catch {
    return JSON.stringify(doc) ?? "";
  }
}

const configTarget: FuzzTarget<{
  format: "toml" | "yaml" | "json";
  doc: unknown;
  raw: string;
  useRaw: boolean;
  cut: number;
}> = {
  name: "config-file",
  arbitrary: fc.record({
    format: fc.constantFrom("toml", "yaml", "json"),
    doc: configDocArb,
    raw: fc.string(),
    useRaw: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    cut: fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat({ max: 400 }) }),
  }),
  async run({ format, doc, raw, useRaw, cut }) {
    let text = useRaw ? raw : await serialise(doc, format);
    if (cut >= 0) text = text.slice(0, cut);
    const path = `/fuzz/config.${format}`;
    const config = await onlyHpauthErrors(() => parseConfigText(text, path, format));
    if (!config) return;
    // Then what `hpauth token` does with it: pick a profile, validate it, build a manager.
    for (const name of [undefined, ...Object.keys(config.profiles)]) {
      await onlyHpauthErrors(() => {
        const env = { X_SECRET: "s", X_PASSWORD: "p" };
        const r = resolveProfile({ config, ...(name !== undefined ? { profileName: name } : {}), flags: {}, env });
        createTokenManager({ profile: r.profile, runtime: { env: {} } });
      });
    }
  },
};

// ---- callback queries and paste-back -----------------------------------------------------------------------

const queryArb = fc.oneof(
  fc.string(),
  fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom("code", "state", "error", "error_description", "iss", "session_state"), fc.string()),
        fc.oneof(fc.string(), fc.constant("STATE")),
      ),
      { maxLength: 6 },
    )
    .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")),
);

const callbackTarget: FuzzTarget<{ query: string; prefix: string }> = {
  name: "callback-query",
  arbitrary: fc.record({
    query: queryArb,
    prefix: fc.constantFrom(
      "",
      "?",
      "#",
      "http://127.0.0.1:8765/callback?",
      "http://localhost/cb#",
      "  '",
      "<",
      "x://",
    ),
  }),
  run({ query, prefix }) {
    const value = newState((n) => new Uint8Array(randomBytes(n)));
    const q = query.replaceAll("STATE", value);
    const pasted = parsePasted(prefix + q);
    for (const params of [new URLSearchParams(q), ...(pasted.kind === "params" ? [pasted.params] : [])]) {
      const state = new SingleUseState(value);
      const verdict = judgeCallback(params, state, { provider: "techpulse", profile: "fz" });
      assert(["bad-state", "code", "error"].includes(verdict.kind), "judgeCallback gave an unknown verdict");
      if (verdict.kind === "error") {
        assert(verdict.error instanceof HpauthError, "the verdict's error is no HpauthError");
        JSON.stringify(verdict.error.toJSON());
      }
      if (verdict.kind === "code") assert(typeof verdict.code === "string" && verdict.code !== "", "empty code");
    }
  },
};

// ---- --import files ------------------------------------------------------------------------------------------

const importDocArb = fc.record(
  {
    access_token: fc.oneof(jwtArb, weirdValue),
    accessToken: weirdValue,
    refresh_token: fc.oneof(fc.string({ minLength: 1 }), weirdValue),
    refreshToken: weirdValue,
    expires_in: weirdValue,
    expiresIn: weirdValue,
    created_at: fc.oneof(fc.constantFrom(NOW, NOW / 1000, NOW - 60_000), weirdValue),
    token_type: weirdValue,
    token: weirdValue,
    data: weirdValue,
  },
  { requiredKeys: [] },
);

const importTarget: FuzzTarget<{ text: string; wrap: number }> = {
  name: "import-file",
  arbitrary: fc.record({
    text: fc.oneof(
      { weight: 5, arbitrary: importDocArb.map((d) => JSON.stringify(d)) },
      { weight: 1, arbitrary: fc.string() },
      { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v) ?? "") },
    ),
    wrap: fc.nat({ max: 3 }),
  }),
  async run({ text, wrap }) {
    let t = text;
    if (wrap === 1) t = `{"token": ${text}}`;
    if (wrap === 2) t = `\uFEFF${text}`;
    const imported = await onlyHpauthErrors(() => parseImportedTokens(t, NOW));
    if (!imported) return;
    assert(typeof imported.refreshToken === "string" && imported.refreshToken !== "", "no refresh token returned");
    if (imported.expiresIn !== undefined) {
      assert(Number.isFinite(imported.expiresIn) && imported.expiresIn >= 0, `expiresIn ${imported.expiresIn}`);
    }
    // Then into the engine as `hpauth login --import` does; the network is down, so only a usable access token
    // can be accepted, and what is accepted must print.
    const manager = createTokenManager({
      profile: PROFILES["aruba-central"],
      store: new MemoryTokenStore(),
      runtime: {
        now: () => NOW,
        env: {},
        sleep: async () => {},
        fetch: async () => {
          throw new TypeError("fetch failed");
        },
      },
      retry: { attempts: 1, timeoutMs: 1000 },
    });
    const token = await onlyHpauthErrors(() => manager.importTokens(imported));
    if (token) tokenJson(token, NOW);
  },
};

const GIT_KEYS = ["protocol", "host", "path", "username", "password", "url", "capability[]", "wwwauth[]", "state[]"];
const gitInputArb = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...GIT_KEYS), fc.string()),
      fc.oneof(fc.string(), fc.constantFrom("authtype", "Bearer realm=x", "")),
    ),
    { maxLength: 8 },
  )
  .map((pairs) => `${pairs.map(([k, v]) => `${k}=${v}`).join("\n")}\n\n`);

/**
 * The credential-helper edges: git's key=value input, kubectl's KUBERNETES_EXEC_INFO, Bazel's request, and every
 * `token --format` output for any token string and expiry the engine can hand over. Inputs: only HpauthErrors;
 * outputs: JSON that parses back to the token, no line a consumer would split (a token with CR/LF is refused).
 */
const helperTarget: FuzzTarget<{ git: string; info: string; bazel: string; token: string; exp: number }> = {
  name: "credential-helper-io",
  arbitrary: fc.record({
    git: fc.oneof(gitInputArb, fc.string()),
    info: fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ""),
      fc.string(),
      fc
        .record({
          kind: fc.constant("ExecCredential"),
          apiVersion: fc.constantFrom("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1", "x"),
          spec: fc.record({ interactive: fc.oneof(fc.boolean(), weirdValue) }),
        })
        .map((v) => JSON.stringify(v)),
    ),
    bazel: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? ""),
      fc.string(),
      fc.record({ uri: fc.oneof(fc.webUrl(), fc.string(), weirdValue) }).map((v) => JSON.stringify(v) ?? ""),
    ),
    token: fc.oneof(fc.string({ minLength: 1 }), fc.stringMatching(/^[A-Za-z0-9._~+/-]+=*$/)),
    exp: weirdNumber,
  }),
  async run({ git, info, bazel, token, exp }) {
    const input = await onlyHpauthErrors(() => parseGitCredentialInput(git));
    for (const v of [...Object.values(input?.single ?? {}), ...Object.values(input?.multi ?? {}).flat()]) {
      assert(!v.includes("\n"), "a git attribute value holds a newline");
    }
    await onlyHpauthErrors(() => execCredentialRequest({ KUBERNETES_EXEC_INFO: info }));
    await onlyHpauthErrors(() => parseBazelRequest(bazel));
    const t: AccessToken = {
      accessToken: token,
      tokenType: "Bearer",
      expiresAt: new Date(clampTimeMs(exp)),
      source: "cache",
      profile: "fz",
      provider: "greenlake",
    };
    const az = await onlyHpauthErrors(() => JSON.parse(azJson(t)));
    if (az) assert(az.accessToken === token && Number.isInteger(az.expires_on), "az JSON does not round-trip");
    const ec = await onlyHpauthErrors(() => JSON.parse(execCredentialJson(t)));
    if (ec) assert(ec.status.token === token, "ExecCredential does not round-trip");
    const bz = await onlyHpauthErrors(() => JSON.parse(bazelJson(t)));
    if (bz) assert(bz.headers.Authorization[0] === `Bearer ${token}`, "Bazel answer does not round-trip");
    const header = await onlyHpauthErrors(() => headerLine(t));
    if (header) assert(!/[\r\n]/.test(header), "a header line with a line break");
    const env = await onlyHpauthErrors(() => envLines(t));
    if (env) assert(env.split("\n")[0]?.startsWith("export HPAUTH_TOKEN='"), "env lines malformed");
  },
};

export const TARGETS: FuzzTarget<never>[] = [
  ...(["techpulse", "wxp", "greenlake", "aruba-central", "hpe-identity", "oauth2"] as const).map(tokenTarget),
  jwtTarget,
  zipTarget,
  contractsTarget,
  recordTarget,
  fileStoreTarget,
  statusTarget,
  configTarget,
  callbackTarget,
  importTarget,
  helperTarget,
] as FuzzTarget<never>[];
