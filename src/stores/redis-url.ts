/**
 * Redis store URLs, apart from the store so the CLI can check and display one without loading a Redis client.
 */
import { HpauthError } from "../engine/errors.js";

/** Parsed `redis://` / `rediss://` URL, for status output (never with the password). */
export interface RedisLocation {
  tls: boolean;
  host: string;
  port: number;
  db: number;
  username?: string;
  /** `redis://user@host:port/db`, no password. */
  display: string;
}

/** Parses a store URL; a password in it is reported, not returned (callers decide whether to refuse it). */
export function parseRedisUrl(url: string): RedisLocation & { hasPassword: boolean } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HpauthError("USAGE", `Not a Redis URL: "${redactUrl(url)}"`, {
      hint: "Use redis://[user@]host[:port][/db] or rediss://… for TLS.",
    });
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new HpauthError("USAGE", `Not a Redis URL (scheme ${u.protocol}): use redis:// or rediss://`);
  }
  if (!u.hostname) throw new HpauthError("USAGE", "The Redis URL has no host: redis://host[:port][/db]");
  const path = u.pathname.replace(/^\/+/, "");
  const db = path === "" ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0 || db > 65535) {
    throw new HpauthError("USAGE", `The Redis URL's database must be a number (redis://host:port/0), not "${path}"`);
  }
  if (u.search || u.hash) {
    throw new HpauthError("USAGE", "The Redis URL takes no query or fragment; TLS and prefix are separate options.");
  }
  const tls = u.protocol === "rediss:";
  const port = u.port ? Number(u.port) : 6379;
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const display = `${tls ? "rediss" : "redis"}://${username ? `${encodeURIComponent(username)}@` : ""}${hostPart}:${port}/${db}`;
  return { tls, host, port, db, ...(username ? { username } : {}), display, hasPassword: u.password !== "" };
}

/** The URL with any password replaced by `***`, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, "$1:***@");
}
