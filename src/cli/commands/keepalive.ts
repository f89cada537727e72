/**
 * `hpauth keepalive`: for each selected profile, refresh the stored refresh token if it would stop working within
 * --within days. The decision and the refresh are the engine's (TokenManager.refreshGrant: under the credential's
 * lock, re-read once held, a refresh only — never a login); this file picks profiles and reports.
 */
import { rfc3339 } from "../../engine/dates.js";
import { ExitCode, HpauthError, isHpauthError } from "../../engine/errors.js";
import type { GrantRefresh } from "../../engine/manager.js";
import { redact } from "../../engine/redact.js";
import { loadCliConfig, makeManager, openStore, resolveCliProfile } from "../context.js";
import { painter, table, useColor } from "../format.js";
import type { CommandIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { formatWhen } from "../time.js";

export interface KeepaliveOptions extends GlobalOptions {
  /** Every profile of the config file. */
  all: boolean;
  /** Refresh a refresh token that would stop working within this many days. */
  withinDays: number;
  /** Decide and report from the store alone; nothing is sent or written. */
  dryRun: boolean;
}

type Result = "refreshed" | "would_refresh" | "not_needed" | "no_refresh_token" | "failed";

interface Row {
  profile: string;
  provider?: string;
  result: Result;
  /** Why (no_refresh_token, not_needed), in a sentence. */
  reason?: string;
  /** When the refresh token stops working unless refreshed before (after a refresh: the new one's). */
  refresh_token_expires_at?: string;
  /** refreshed: the new access token's expiry. */
  expires_at?: string;
  error?: { code: string; message: string; hint?: string; retry_at?: string; exit_code: number };
}

const DAY_MS = 86_400_000;

export async function runKeepalive(options: KeepaliveOptions, io: CommandIO): Promise<number> {
  if (options.all && (options.profile !== undefined || options.profiles !== undefined)) {
    throw new HpauthError("USAGE", "Give --all or -p NAME…, not both");
  }
  const config = await loadCliConfig(options, io);
  let names: Array<string | undefined>;
  if (options.all) {
    names = Object.keys(config.profiles);
    if (names.length === 0) {
      throw new HpauthError(
        "PROFILE_NOT_FOUND",
        `No profiles${config.exists ? ` in ${config.path}` : " (no config file)"}: nothing to keep alive`,
        { hint: "Create one with `hpauth profiles add`, or name a profile given by flags with -p." },
      );
    }
  } else {
    names = options.profiles ?? [options.profile];
  }
  if (new Set(names).size !== names.length) throw new HpauthError("USAGE", "A profile is given twice with -p");

  const store = openStore(options, io, undefined, config);
  const rows: Row[] = [];
  const now = Date.now();
  const horizon = now + options.withinDays * DAY_MS;
  try {
    for (const name of names) {
      let label = name ?? "(default)";
      let provider: string | undefined;
      try {
        const { profile } = await resolveCliProfile({ ...options, ...(name ? { profile: name } : {}) }, io, config);
        label = profile.name;
        provider = profile.provider;
        const manager = makeManager(options, io, profile, store);
        const outcome = await manager.refreshGrant({
          unlessLivesPast: horizon,
          dryRun: options.dryRun,
          signal: io.signal,
        });
        rows.push(row(label, provider, outcome, options.withinDays));
      } catch (e) {
        if (!isHpauthError(e)) throw e;
        if (e.code === "CANCELLED") throw e;
        rows.push({
          profile: label,
          ...(provider ? { provider } : {}),
          result: "failed",
          error: {
            code: e.code,
            message: redact(e.message),
            ...(e.hint ? { hint: redact(e.hint) } : {}),
            ...(e.retryAt ? { retry_at: rfc3339(e.retryAt, "up") } : {}),
            exit_code: e.exitCode,
          },
        });
      }
    }
  } finally {
    await store.close?.();
  }

  const failed = rows.find((r) => r.result === "failed");
  const code = failed?.error?.exit_code ?? ExitCode.OK;
  if (options.json) {
    io.stdout.write(
      `${JSON.stringify({ within_days: options.withinDays, dry_run: options.dryRun, store: store.kind, profiles: rows })}\n`,
    );
  } else {
    io.stdout.write(human(rows, options, io, now));
  }
  return code;
}

function row(profile: string, provider: string | undefined, g: GrantRefresh, withinDays: number): Row {
  const dies = g.refreshTokenExpiresAt ? rfc3339(g.refreshTokenExpiresAt) : undefined;
  const r: Row = { profile, ...(provider ? { provider } : {}), result: g.outcome };
  if (g.reason) r.reason = g.reason;
  else if (g.outcome === "not_needed")
    r.reason = `the refresh token works until ${dies}, more than ${withinDays} days from now`;
  else if (g.outcome === "would_refresh")
    r.reason = dies
      ? `the refresh token stops working at ${dies}, within ${withinDays} days`
      : "the refresh token's lifetime is unknown";
  if (dies) r.refresh_token_expires_at = dies;
  if (g.token) {
    const at = rfc3339(g.token.expiresAt);
    if (at) r.expires_at = at;
  }
  return r;
}

function human(rows: Row[], options: KeepaliveOptions, io: CommandIO, now: number): string {
  const paint = painter(useColor(options, io));
  const color = (r: Result) => {
    const text = r.replaceAll("_", " ");
    return r === "failed" ? paint.red(text) : r === "refreshed" || r === "would_refresh" ? paint.green(text) : text;
  };
  const body = rows.map((r) => {
    const until = r.refresh_token_expires_at ? formatWhen(new Date(r.refresh_token_expires_at), now) : undefined;
    const detail =
      r.result === "failed"
        ? `${r.error?.code}: ${r.error?.message}`
        : r.result === "refreshed"
          ? until
            ? `refresh token good until ${until}`
            : "refresh token renewed"
          : r.result === "not_needed"
            ? `refresh token good until ${until}`
            : (r.reason ?? "");
    return [r.profile, r.provider ?? "?", color(r.result), detail];
  });
  let out = table(["PROFILE", "PROVIDER", "RESULT", "DETAIL"], body, paint);
  for (const r of rows) if (r.error?.hint) out += `${paint.yellow("!")} ${r.profile}: ${r.error.hint}\n`;
  if (options.dryRun) out += "Dry run: nothing was sent or written.\n";
  return out;
}
