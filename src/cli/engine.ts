/**
 * The one place the CLI meets the engine and the file store: if their modules move, only this file changes.
 * JWT decoding uses jose (no verification: inspect shows what a token claims, it does not vouch for it).
 */
import { gunzipSync } from "node:zlib";
import { decodeJwt, decodeProtectedHeader } from "jose";

export { createTokenManager, type TokenManager, type TokenStatus } from "../engine/index.js";
export { defaultTokenDir, FileTokenStore } from "../stores/file.js";

export function decodeJwtParts(
  token: string,
): { header: Record<string, unknown>; claims: Record<string, unknown> } | undefined {
  if (token.split(".").length !== 3) return undefined;
  try {
    return {
      header: decodeProtectedHeader(token) as Record<string, unknown>,
      claims: decodeJwt(token) as Record<string, unknown>,
    };
  } catch {
    return undefined;
  }
}

/** HPE Identity's `zip_authorities`: base64 of gzip (starts `H4sI`), JSON inside when it parses. */
export function decodeZipAuthorities(value: string): unknown {
  try {
    const text = gunzipSync(Buffer.from(value, "base64")).toString("utf8");
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  } catch {
    return { error: "not base64-encoded gzip" };
  }
}
