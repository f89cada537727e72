import { PassThrough, Writable } from "node:stream";
import type { AuthorizationRequest } from "../../src/engine/types.js";

/** A Writable that keeps everything written to it. */
export class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** A stand-in authorization server's URL builder: what the engine hands the authorizer. */
export function fakeRequest(overrides: Partial<AuthorizationRequest> = {}): AuthorizationRequest & { lastUrl?: URL } {
  const req: AuthorizationRequest & { lastUrl?: URL } = {
    provider: "oauth2",
    profile: "test",
    pkce: false,
    authorizationUrl({ redirectUri, state, codeChallenge }) {
      const u = new URL("https://idp.invalid/authorize");
      u.searchParams.set("client_id", "cid");
      u.searchParams.set("response_type", "code");
      u.searchParams.set("redirect_uri", redirectUri);
      u.searchParams.set("state", state);
      if (codeChallenge) {
        u.searchParams.set("code_challenge", codeChallenge);
        u.searchParams.set("code_challenge_method", "S256");
      }
      req.lastUrl = u;
      return u;
    },
    ...overrides,
  };
  return req;
}

/** What the browser would be sent to after the IdP: redirect_uri + code + state (+ extra). */
export function callbackUrl(authUrl: string, params: Record<string, string | undefined>): string {
  const u = new URL(authUrl);
  const cb = new URL(u.searchParams.get("redirect_uri")!);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) cb.searchParams.set(k, v);
  return cb.href;
}

export function stateOf(authUrl: string): string {
  return new URL(authUrl).searchParams.get("state")!;
}

export function input(): PassThrough {
  return new PassThrough();
}

export async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
