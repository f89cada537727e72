/**
 * `hpauth status`: every profile, from the store alone (no network): token state and time left, refresh-token age,
 * warnings (secret age, idle Aruba refresh tokens), when Aruba allows the next login, the last error, and for the
 * GreenLake platform the workspace (and, for an MSP exchange, the state of the MSP's own token).
 */
import { rfc3339 } from "../../engine/dates.js";
import { isHpauthError } from "../../engine/errors.js";
import { redact } from "../../engine/redact.js";
import type { NamedProfile } from "../../engine/types.js";
import { loadCliConfig, makeManager, openStore, resolveCliProfile } from "../context.js";
import { painter, table, useColor } from "../format.js";
import type { CommandIO } from "../io.js";
import type { StatusOptions } from "../options.js";
import { formatDuration, formatWhen } from "../time.js";

interface Row {
  profile: string;
  provider?: string;
  state: string;
  expires_at?: string;
  expires_in?: number;
  scope?: string;
  has_refresh_token?: boolean;
  refresh_token_age_seconds?: number;
  /** When the refresh token stops working unless refreshed before (`hpauth keepalive`); absent when unknown. */
  refresh_token_expires_at?: string;
  last_refresh_at?: string;
  last_login_at?: string;
  next_login_allowed_at?: string;
  /** GreenLake platform: the workspace the profile's tokens are scoped to (the tenant's, for an MSP exchange). */
  workspace_id?: string;
  /** MSP token exchange: the MSP workspace's own token, the subject of every exchange (cached under its own key). */
  msp_token?: { workspace_id?: string; state: string; expires_at?: string; expires_in?: number };
  warnings: string[];
  /** `stale`: a token was obtained after this error, so it no longer describes the profile. */
  last_error?: { code: string; message: string; at?: string; stale?: boolean };
}

/** A time from the engine's status as `--json` writes times; undefined for no printable instant (never a RangeError). */
function iso(v: unknown, round: "down" | "up" = "down"): string | undefined {
  if (v instanceof Date || typeof v === "number") return rfc3339(v, round);
  if (typeof v === "string") return rfc3339(Date.parse(v), round);
  return undefined;
}

export async function runStatus(options: StatusOptions, io: CommandIO): Promise<number> {
  const config = await loadCliConfig(options, io);
  const profiles: NamedProfile[] = Object.entries(config.profiles).map(([name, p]) => ({ ...p, name }));
  // A profile given by flags / HPAUTH_* (or a selection) is shown too, with the overrides applied.
  const hasOverrides = Object.keys(options.fields).length > 0 || options.profile || io.env.HPAUTH_PROFILE;
  if (hasOverrides || profiles.length === 0) {
    try {
      const { profile } = await resolveCliProfile(options, io, config);
      const i = profiles.findIndex((p) => p.name === profile.name);
      if (i >= 0) profiles[i] = profile;
      else profiles.push(profile);
    } catch (e) {
      if (profiles.length > 0 || !isHpauthError(e) || e.code !== "PROFILE_NOT_FOUND") throw e;
    }
  }
  const store = openStore(options, io, undefined, config);
  const rows: Row[] = [];
  const now = Date.now();
  try {
    for (const profile of profiles) {
      try {
        const manager = makeManager(options, io, profile, store);
        const s = (await manager.status()) as unknown as Record<string, unknown>;
        const expiresAt = iso(s.expiresAt);
        const rtIssued = s.refreshTokenIssuedAt ?? s.refreshTokenObtainedAt;
        const rtAge =
          typeof s.refreshTokenAgeSeconds === "number"
            ? s.refreshTokenAgeSeconds
            : rtIssued !== undefined
              ? Math.floor((now - new Date(rtIssued as number | string | Date).getTime()) / 1000)
              : undefined;
        const lastError = s.lastError as { code: string; message: string; at?: unknown } | undefined;
        // An error recorded before the token the store now holds was obtained is history, not the current state.
        const tokenAt = [s.obtainedAt, s.lastRefreshAt, s.lastLoginAt]
          .map((v) => (v === undefined ? Number.NaN : new Date(v as string | number | Date).getTime()))
          .filter((t) => Number.isFinite(t));
        const errorAt = iso(lastError?.at);
        const stale = errorAt !== undefined && tokenAt.some((t) => t > Date.parse(errorAt));
        const workspaceId = manager.profile.tenantWorkspaceId ?? manager.profile.workspaceId;
        let mspToken: Row["msp_token"];
        if (manager.subjectManager) {
          const m = await manager.subjectManager.status();
          const mExpires = iso(m.expiresAt);
          mspToken = {
            ...(manager.profile.workspaceId ? { workspace_id: manager.profile.workspaceId } : {}),
            state: m.state,
            ...(mExpires ? { expires_at: mExpires, expires_in: Math.floor((Date.parse(mExpires) - now) / 1000) } : {}),
          };
        }
        rows.push({
          profile: profile.name,
          provider: profile.provider,
          state: String(s.state ?? "unknown"),
          ...(expiresAt ? { expires_at: expiresAt, expires_in: Math.floor((Date.parse(expiresAt) - now) / 1000) } : {}),
          ...(typeof s.scope === "string" ? { scope: s.scope } : {}),
          ...(typeof s.hasRefreshToken === "boolean" ? { has_refresh_token: s.hasRefreshToken } : {}),
          ...(rtAge !== undefined ? { refresh_token_age_seconds: rtAge } : {}),
          ...(iso(s.refreshTokenExpiresAt) ? { refresh_token_expires_at: iso(s.refreshTokenExpiresAt) } : {}),
          ...(iso(s.lastRefreshAt) ? { last_refresh_at: iso(s.lastRefreshAt) } : {}),
          ...(iso(s.lastLoginAt) ? { last_login_at: iso(s.lastLoginAt) } : {}),
          // Not allowed before: rounded up, so a script waiting until then is never early.
          ...(iso(s.nextLoginAllowedAt) ? { next_login_allowed_at: iso(s.nextLoginAllowedAt, "up") } : {}),
          ...(workspaceId ? { workspace_id: workspaceId } : {}),
          ...(mspToken ? { msp_token: mspToken } : {}),
          warnings: Array.isArray(s.warnings) ? (s.warnings as unknown[]).map((w) => redact(String(w))) : [],
          ...(lastError
            ? {
                last_error: {
                  code: lastError.code,
                  message: redact(lastError.message),
                  ...(errorAt ? { at: errorAt } : {}),
                  ...(stale ? { stale: true } : {}),
                },
              }
            : {}),
        });
      } catch (e) {
        // A shared store that cannot be reached is the answer for every profile: exit 5, not a table of errors.
        if (!isHpauthError(e) || (e.code === "STORE_ERROR" && store.kind === "redis")) throw e;
        rows.push({
          profile: profile.name,
          ...(profile.provider ? { provider: profile.provider } : {}),
          state: "invalid",
          warnings: [],
          last_error: { code: e.code, message: redact(e.message) },
        });
      }
    }
  } finally {
    await store.close?.();
  }

  if (options.json) {
    io.stdout.write(
      `${JSON.stringify({ config: config.exists ? config.path : null, store: store.kind, ...(store.location ? { store_location: store.location } : {}), profiles: rows })}\n`,
    );
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write(
      `No profiles${config.exists ? ` in ${config.path}` : ""}. Create one with \`hpauth profiles add\`.\n`,
    );
    return 0;
  }
  const paint = painter(useColor(options, io));
  const stateColor = (s: string) =>
    s === "valid"
      ? paint.green(s)
      : s === "expired" || s === "invalid" || s === "error"
        ? paint.red(s)
        : paint.yellow(s);
  const body = rows.map((r) => [
    r.profile,
    r.provider ?? "?",
    stateColor(r.state),
    r.expires_in !== undefined ? (r.expires_in > 0 ? formatDuration(r.expires_in) : "expired") : "-",
    r.has_refresh_token
      ? r.refresh_token_age_seconds !== undefined
        ? `yes, ${formatDuration(r.refresh_token_age_seconds)} old`
        : "yes"
      : r.has_refresh_token === false
        ? "no"
        : "-",
    r.next_login_allowed_at && Date.parse(r.next_login_allowed_at) > now
      ? formatWhen(new Date(r.next_login_allowed_at), now)
      : "-",
  ]);
  let out = table(["PROFILE", "PROVIDER", "TOKEN", "TIME LEFT", "REFRESH TOKEN", "NEXT LOGIN"], body, paint);
  for (const r of rows) {
    if (r.msp_token) {
      const m = r.msp_token;
      const left = m.expires_in !== undefined ? (m.expires_in > 0 ? `, ${formatDuration(m.expires_in)} left` : "") : "";
      out += `- ${r.profile}: tokens for tenant workspace ${r.workspace_id} by exchange of the MSP workspace${m.workspace_id ? ` ${m.workspace_id}` : ""}'s token (${m.state}${left})\n`;
    }
    for (const w of r.warnings) out += `${paint.yellow("!")} ${r.profile}: ${w}\n`;
    const e = r.last_error;
    const when = e?.at ? ` (${formatWhen(new Date(e.at), now)})` : "";
    if (e?.stale) {
      out += `${paint.dim(`- ${r.profile}: earlier error${when}, before the current token: ${e.code}: ${e.message}`)}\n`;
    } else if (e) out += `${paint.red("x")} ${r.profile}: last error${when} ${e.code}: ${e.message}\n`;
  }
  if (store.kind === "redis" && store.location) out += `Store: ${store.location}\n`;
  io.stdout.write(out);
  return 0;
}
