/**
 * `hpauth demo`: every provider's flow, end to end, against an in-process emulator, with no configuration and
 * nothing written (tokens in memory). Shows the first token, a refresh (or the re-grant the provider calls for)
 * after moving the emulator's clock past the token's lifetime, and one protected API call each.
 */
import { HpauthError, isHpauthError } from "../../engine/errors.js";
import { flagGBlockedContracts } from "../../engine/inspect.js";
import { createTokenManager } from "../../engine/manager.js";
import { redact } from "../../engine/redact.js";
import type { NamedProfile, ProviderId } from "../../engine/types.js";
import { MemoryTokenStore } from "../../stores/memory.js";
import { clearProgress, progressEnabled, showProgress, verboseLogger } from "../context.js";
import { painter, table, useColor } from "../format.js";
import type { CommandIO } from "../io.js";
import type { DemoOptions } from "../options.js";
import { formatDuration } from "../time.js";
import { scriptedBrowser } from "./demo-browser.js";

type DemoProvider = Exclude<ProviderId, "oauth2">;

interface DemoApi {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
}

/** Grant names for the table, and one protected call per provider (paths as documented, see providers.md). */
const PLAN: Record<DemoProvider, { grant: string; api: DemoApi }> = {
  techpulse: {
    grant: "authorization_code",
    api: { method: "POST", path: "/analytics/v1/reports/hwinv/deviceType/type/graph", body: {} },
  },
  wxp: { grant: "password", api: { method: "GET", path: "/api/v1/collaboration/rooms" } },
  greenlake: { grant: "client_credentials", api: { method: "GET", path: "/api/v1/storage-systems" } },
  "aruba-central": { grant: "login + auth code", api: { method: "GET", path: "/monitoring/v2/aps" } },
  "hpe-identity": {
    grant: "client_credentials",
    api: { method: "GET", path: "/support/entitlement/v1/warrantyCheck/CZ12345678/123456-B21?cc=US&hsl=true" },
  },
  "greenlake-platform": { grant: "client_credentials", api: { method: "GET", path: "/devices/v1/devices" } },
  // New Central for a tenant of the emulator's MSP workspace: the MSP's GLP token exchanged (RFC 8693).
  "new-central": { grant: "token exchange", api: { method: "GET", path: "/network-monitoring/v1/aps" } },
};

/** Demo rows whose emulator entry has another name (a preset of the same service). */
const EMULATED_AS: Partial<Record<DemoProvider, string>> = { "new-central": "greenlake-platform" };

export interface DemoRow {
  provider: DemoProvider;
  grant: string;
  ok: boolean;
  token?: string;
  lifetime_seconds?: number;
  renewal?: "refresh" | "login" | "cache";
  api_status?: number;
  api_summary?: string;
  ms: number;
  error?: { code: string; message: string };
}

/** `eyJh…(812 chars)`: enough to see what kind of token it is, never enough to use it. */
export function maskToken(token: string): string {
  return `${token.slice(0, 4)}…(${token.length} chars)`;
}

/** One line about a JSON body: the first array found and its length, else its keys. */
export function summarize(body: unknown): string {
  if (Array.isArray(body)) return `${body.length} item${body.length === 1 ? "" : "s"}`;
  if (body && typeof body === "object") {
    const obj = body as Record<string, unknown>;
    // HPE Identity's entitlements: a G-blocked contract is active but not deliverable, and must be shown as such.
    if (Array.isArray(obj.contracts)) {
      const flagged = flagGBlockedContracts(obj.contracts as Record<string, unknown>[]);
      const blocked = flagged.filter((c) => c.gBlocked).length;
      return `${flagged.length} contracts${blocked ? ` (${blocked} G-blocked, not deliverable)` : ""}`;
    }
    for (const [k, v] of Object.entries(obj)) {
      if (Array.isArray(v)) {
        const total = typeof obj.total === "number" ? obj.total : typeof obj.count === "number" ? obj.count : undefined;
        return `${v.length} ${k}${total !== undefined && total !== v.length ? ` of ${total}` : ""}`;
      }
    }
    const keys = Object.keys(obj);
    return keys.length ? `{${keys.slice(0, 4).join(", ")}${keys.length > 4 ? ", …" : ""}}` : "{}";
  }
  return typeof body === "string" ? `${body.length} bytes` : String(body);
}

interface EmulatorLike {
  providers: Record<string, Record<string, string | undefined> & { baseUrl: string }>;
  adminUrl: string;
  close(): Promise<void>;
}

/** The MSP workspace's first tenant, as GreenLake lists them (`GET /workspaces/v1/msp-tenants`, the MSP's token). */
async function firstTenant(
  profile: NamedProfile,
  store: MemoryTokenStore,
  now: () => number,
  signal: AbortSignal,
): Promise<string> {
  const msp = createTokenManager({
    profile: { ...profile, name: `${profile.name} (MSP workspace)`, provider: "greenlake-platform" },
    store,
    runtime: { now, env: {} },
  });
  const res = await msp.fetch("/workspaces/v1/msp-tenants", { headers: { accept: "application/json" }, signal });
  const body = (await res.json().catch(() => undefined)) as { items?: Array<{ id?: unknown }> } | undefined;
  const id = body?.items?.[0]?.id;
  if (!res.ok || typeof id !== "string") {
    throw new HpauthError("SERVER_ERROR", `GreenLake msp-tenants answered HTTP ${res.status} without a tenant`);
  }
  return id;
}

export async function runDemo(options: DemoOptions, io: CommandIO): Promise<number> {
  const started = Date.now();
  const progress = progressEnabled(options, io);
  const say = (s: string) => progress && showProgress(io, s);
  say("Starting the emulator (six identity services and their APIs on 127.0.0.1)…");
  const { startEmulator } = await import("../../emulator/index.js");
  const emu = (await startEmulator()) as unknown as EmulatorLike;
  const rows: DemoRow[] = [];
  let exitCode = 0;
  // The engine decides expiry by its own clock; tie it to the emulator's so moving one moves the other.
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const admin = async (path: string, body?: unknown) => {
    const res = await fetch(new URL(path, emu.adminUrl), {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: io.signal,
    });
    if (!res.ok) throw new HpauthError("SERVER_ERROR", `Emulator admin ${path}: HTTP ${res.status}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  try {
    const store = new MemoryTokenStore();
    const onEvent = verboseLogger(options, io);
    for (const provider of Object.keys(PLAN) as DemoProvider[]) {
      const t0 = Date.now();
      const plan = PLAN[provider];
      const row: DemoRow = { provider, grant: plan.grant, ok: false, ms: 0 };
      rows.push(row);
      say(`${provider}: ${plan.grant}, then past the token's lifetime, then its API…`);
      try {
        const creds = emu.providers[EMULATED_AS[provider] ?? provider];
        if (!creds) throw new HpauthError("INTERNAL", `The emulator has no ${provider}`);
        const { baseUrl, ...rest } = creds;
        const profile: NamedProfile = { name: `demo-${provider}`, provider, baseUrl };
        for (const k of [
          "clientId",
          "clientSecret",
          "username",
          "password",
          "customerId",
          "redirectUri",
          "workspaceId",
        ] as const) {
          if (typeof rest[k] === "string") profile[k] = rest[k];
        }
        if (provider === "new-central") profile.tenantWorkspaceId = await firstTenant(profile, store, now, io.signal);
        const manager = createTokenManager({
          profile,
          store,
          runtime: { now, env: {} },
          ...(onEvent ? { onEvent } : {}),
          ...(provider === "techpulse"
            ? { authorizer: scriptedBrowser({ username: rest.username ?? "", password: rest.password ?? "" }) }
            : {}),
        });
        const first = await manager.getToken({ signal: io.signal });
        const answered = now();
        row.token = maskToken(first.accessToken);
        // The lifetime the service granted (expires_in), not what is left: measured from the answer and rounded up,
        // since the engine's expiry lands a few ms short of it (the request's own time), or up to a second short for a
        // JWT, whose `exp` counts whole seconds from a floored `iat` and is never exceeded.
        row.lifetime_seconds = Math.ceil((first.expiresAt.getTime() - answered) / 1000);
        // Past the token's lifetime: the engine refreshes where the provider can, re-grants where it cannot.
        const advance = Math.max(60, row.lifetime_seconds + 60);
        await admin("/clock/advance", { seconds: advance });
        offsetMs += advance * 1000;
        const second = await manager.getToken({ signal: io.signal });
        row.renewal = second.source;
        const url = new URL(plan.api.path, profile.apiBaseUrl ?? baseUrl);
        const res = await manager.fetch(url, {
          method: plan.api.method,
          headers: { accept: "application/json", ...(plan.api.body ? { "content-type": "application/json" } : {}) },
          ...(plan.api.body ? { body: JSON.stringify(plan.api.body) } : {}),
          signal: io.signal,
        });
        row.api_status = res.status;
        const text = await res.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON: summarised by size */
        }
        row.api_summary = redact(summarize(parsed));
        row.ok = res.ok && (second.source === "refresh" || second.source === "login");
        if (!res.ok) row.error = { code: "API", message: `the protected API answered HTTP ${res.status}` };
        if (!row.ok && exitCode === 0) exitCode = res.status === 401 || res.status === 403 ? 3 : 5;
      } catch (e) {
        if (io.signal.aborted) throw e;
        if (exitCode === 0) exitCode = isHpauthError(e) ? e.exitCode : 1;
        row.error = isHpauthError(e)
          ? { code: e.code, message: redact(e.message) }
          : { code: "INTERNAL", message: redact(e instanceof Error ? e.message : String(e)) };
      }
      row.ms = Date.now() - t0;
    }
  } finally {
    clearProgress(io);
    await emu.close();
  }

  const allOk = rows.every((r) => r.ok);
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ ok: allOk, ms: Date.now() - started, providers: rows })}\n`);
  } else {
    const paint = painter(useColor(options, io));
    const body = rows.map((r) => [
      r.ok ? paint.green("✓") : paint.red("✗"),
      r.provider,
      r.grant,
      r.lifetime_seconds !== undefined ? formatDuration(r.lifetime_seconds) : "-",
      r.renewal === "refresh" ? "refreshed" : r.renewal === "login" ? "new grant" : (r.renewal ?? "-"),
      r.api_status !== undefined ? `${r.api_status} ${r.api_summary ?? ""}` : r.error ? paint.red(r.error.code) : "-",
      r.token ?? "-",
      `${r.ms} ms`,
    ]);
    let out = `Each provider against the built-in emulator (127.0.0.1): a first token, the clock moved past its lifetime,
a token again (refreshed, or a new grant where the flow has no usable refresh token), then one call to its API.

${table(["", "PROVIDER", "GRANT", "LIFETIME", "PAST EXPIRY", "API", "TOKEN (MASKED)", "TIME"], body, paint)}`;
    for (const r of rows) if (r.error) out += `${paint.red("✗")} ${r.provider}: ${r.error.code}: ${r.error.message}\n`;
    out += `\n${allOk ? paint.green(`All ${rows.length} providers worked`) : paint.red("Some providers failed")} in ${((Date.now() - started) / 1000).toFixed(1)} s, against the built-in emulator. Nothing was written to disk.\n`;
    out += "Next: `hpauth emulate` to keep it running, `hpauth profiles add` to set up a real tenant.\n";
    io.stdout.write(out);
  }
  return allOk ? 0 : exitCode || 1;
}
