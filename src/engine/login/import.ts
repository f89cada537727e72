/**
 * `hpauth login --import`: the token JSON Aruba Central's UI downloads (API Gateway → My Apps & Tokens → Download
 * Tokens: `access_token`, `refresh_token`, `expires_in`, `created_at` in ms, `token_type`, `scope`, …), the same
 * in camelCase, or any access/refresh pair. Error messages name fields, never values: this is all secret.
 */
import { HpauthError } from "../errors.js";

export interface ImportedTokens {
  accessToken?: string;
  refreshToken: string;
  /** Seconds the access token still has, when the file says (already reduced by its age if `created_at` is given). */
  expiresIn?: number;
}

function pick(o: Record<string, unknown>, names: string[]): unknown {
  for (const n of names) if (o[n] !== undefined && o[n] !== null && o[n] !== "") return o[n];
  return undefined;
}

function num(v: unknown): number | undefined {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

/** Parses the import; `now` (epoch ms) ages `expires_in` by `created_at`. */
export function parseImportedTokens(text: string, now: number = Date.now()): ImportedTokens {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch {
    throw new HpauthError("USAGE", "The token file is not valid JSON", {
      hint: 'Give the JSON downloaded from Aruba Central, or {"access_token": "…", "refresh_token": "…"}.',
    });
  }
  // Some tools wrap the response: {"token": {...}} or {"data": {...}}.
  for (let depth = 0; depth < 2 && data && typeof data === "object" && !Array.isArray(data); depth++) {
    const o = data as Record<string, unknown>;
    const inner = o.token ?? o.tokens ?? o.data;
    if (pick(o, ["refresh_token", "refreshToken"]) === undefined && inner && typeof inner === "object") data = inner;
    else break;
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new HpauthError("USAGE", "The token file must hold a JSON object");
  }
  const o = data as Record<string, unknown>;
  const refresh = pick(o, ["refresh_token", "refreshToken"]);
  const access = pick(o, ["access_token", "accessToken"]);
  if (typeof refresh !== "string" || refresh.trim() === "") {
    throw new HpauthError("USAGE", "The token file has no refresh_token (or refreshToken)", {
      hint: "hpauth keeps an imported login alive by refreshing it, so it needs the refresh token.",
    });
  }
  if (access !== undefined && typeof access !== "string") {
    throw new HpauthError("USAGE", "The token file's access_token is not a string");
  }
  const out: ImportedTokens = { refreshToken: refresh.trim() };
  if (typeof access === "string" && access.trim() !== "") out.accessToken = access.trim();
  let expiresIn = num(pick(o, ["expires_in", "expiresIn"]));
  const createdAt = num(pick(o, ["created_at", "createdAt"]));
  if (expiresIn !== undefined && createdAt !== undefined && createdAt > 0) {
    // Aruba writes created_at in milliseconds; accept seconds too (anything before 2001 in ms is seconds).
    const createdMs = createdAt < 1e12 ? createdAt * 1000 : createdAt;
    if (createdMs <= now) expiresIn = Math.floor((createdMs + expiresIn * 1000 - now) / 1000);
  }
  // `expires_in: 1e308` overflows to Infinity once aged: a lifetime nobody can state is no lifetime.
  if (expiresIn !== undefined && Number.isFinite(expiresIn) && out.accessToken !== undefined) {
    out.expiresIn = Math.max(0, expiresIn);
  }
  return out;
}
