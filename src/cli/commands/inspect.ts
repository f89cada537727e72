/**
 * `hpauth inspect`: what a token says about itself (JWT header, claims, expiry; HPE Identity's zip_authorities
 * decoded). Prints claims only: never the token, never its signature.
 */
import { rfc3339 } from "../../engine/dates.js";
import { HpauthError } from "../../engine/errors.js";
import { decodeJwtToken, decodeZipAuthorities } from "../../engine/inspect.js";
import { clearProgress, makeManager, openStore, resolveCliProfile } from "../context.js";
import { table } from "../format.js";
import type { CommandIO } from "../io.js";
import type { InspectOptions } from "../options.js";
import { formatDuration } from "../time.js";

async function readStdin(io: CommandIO): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8").trim();
}

export interface Inspection {
  profile?: string;
  provider?: string;
  format: "jwt" | "opaque";
  length: number;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  issued_at?: string;
  expires_at?: string;
  expires_in?: number;
  zip_authorities?: unknown;
  /** GreenLake: the workspace the token is scoped to (`hpe_workspace_id`, else `platform_customer_id`). */
  workspace_id?: string;
  /** RFC 8693 §4.1 `act`: who obtained this token by exchange (an MSP's client and workspace). */
  actor?: Record<string, unknown>;
}

/** zip_authorities decoded, or a note saying why not (inspect shows what is there; it does not fail on it). */
function zipAuthorities(value: string): unknown {
  try {
    return decodeZipAuthorities(value);
  } catch {
    return { error: "not base64-encoded gzip" };
  }
}

export function inspectToken(token: string, now = Date.now()): Inspection {
  const jwt = decodeJwtToken(token);
  if (!jwt) return { format: "opaque", length: token.length };
  const { header, claims } = jwt;
  const out: Inspection = { format: "jwt", length: token.length, header, claims };
  const issued = jwt.issuedAt && rfc3339(jwt.issuedAt);
  if (issued) out.issued_at = issued;
  const expires = jwt.expiresAt && rfc3339(jwt.expiresAt);
  if (jwt.expiresAt && expires) {
    out.expires_at = expires;
    out.expires_in = Math.floor((jwt.expiresAt.getTime() - now) / 1000);
  }
  if (typeof claims.zip_authorities === "string") out.zip_authorities = zipAuthorities(claims.zip_authorities);
  const workspace = claims.hpe_workspace_id ?? claims.platform_customer_id;
  if (typeof workspace === "string" && workspace !== "") out.workspace_id = workspace;
  if (claims.act && typeof claims.act === "object" && !Array.isArray(claims.act)) {
    out.actor = claims.act as Record<string, unknown>;
  }
  return out;
}

export async function runInspect(options: InspectOptions, io: CommandIO): Promise<number> {
  let inspection: Inspection;
  if (options.token !== undefined) {
    const token = options.token === "-" ? await readStdin(io) : options.token;
    if (!token) throw new HpauthError("USAGE", "No token given (stdin was empty)");
    if (options.token !== "-" && !options.quiet) {
      io.stderr.write("Warning: a token given as a flag is visible in `ps`; prefer `--token -` and stdin.\n");
    }
    inspection = inspectToken(token);
  } else {
    const { profile, config } = await resolveCliProfile(options, io);
    const store = openStore(options, io, undefined, config);
    try {
      const manager = makeManager(options, io, profile, store);
      const token = await manager.getToken({ signal: io.signal });
      inspection = { profile: profile.name, provider: token.provider, ...inspectToken(token.accessToken) };
      // Identity's zip_authorities arrive beside the token (kept as non-secret metadata), not inside it.
      const record = await store.get(manager.key);
      const zip = record?.meta?.zip_authorities;
      if (inspection.zip_authorities === undefined && typeof zip === "string") {
        inspection.zip_authorities = zipAuthorities(zip);
      }
      const expires = rfc3339(token.expiresAt);
      if (!inspection.expires_at && expires) {
        inspection.expires_at = expires;
        inspection.expires_in = Math.floor((token.expiresAt.getTime() - Date.now()) / 1000);
      }
    } finally {
      await store.close?.();
      clearProgress(io);
    }
  }

  if (options.json) {
    io.stdout.write(`${JSON.stringify(inspection)}\n`);
    return 0;
  }
  let out = "";
  if (inspection.profile) out += `Profile:   ${inspection.profile} (${inspection.provider})\n`;
  out += `Format:    ${inspection.format === "jwt" ? "JWT" : "opaque (not a JWT: nothing to decode)"}, ${inspection.length} chars\n`;
  if (inspection.expires_at) {
    const left = inspection.expires_in ?? 0;
    out += `Expires:   ${inspection.expires_at} (${left > 0 ? `in ${formatDuration(left)}` : "expired"})\n`;
  }
  if (inspection.workspace_id) out += `Workspace: ${inspection.workspace_id}\n`;
  if (inspection.actor) {
    const a = inspection.actor;
    const ws = a.hpe_workspace_id ?? a.platform_customer_id;
    out += `Exchange:  obtained by ${String(a.sub ?? a.client_id ?? "?")}${typeof ws === "string" ? ` of workspace ${ws}` : ""} (RFC 8693 act)\n`;
  }
  if (inspection.header) out += `\nHeader:\n${kv(inspection.header)}`;
  if (inspection.claims) {
    const { zip_authorities: _omit, ...claims } = inspection.claims;
    out += `\nClaims:\n${kv(claims)}`;
  }
  if (inspection.zip_authorities !== undefined) {
    out += `\nzip_authorities (decoded):\n${JSON.stringify(inspection.zip_authorities, null, 2)}\n`;
  }
  io.stdout.write(out);
  return 0;
}

function kv(obj: Record<string, unknown>): string {
  const rows = Object.entries(obj).map(([k, v]) => {
    let s = typeof v === "string" ? v : JSON.stringify(v);
    if ((k === "exp" || k === "iat" || k === "nbf" || k === "auth_time") && typeof v === "number") {
      s += `  (${rfc3339(v * 1000) ?? "not a date between 1970 and 9999"})`;
    }
    return [`  ${k}`, s];
  });
  return table(["", ""], rows).split("\n").slice(1).join("\n");
}
