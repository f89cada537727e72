/**
 * `hpauth/openapi-fetch`: middleware for openapi-fetch clients.
 *
 *   import createClient from "openapi-fetch";
 *   import { authMiddleware } from "hpauth/openapi-fetch";
 *   const client = createClient<paths>({ baseUrl: manager.apiUrl("/").origin });
 *   client.use(authMiddleware(manager));
 *
 * onRequest adds `Authorization: Bearer <token>` to requests for the profile's API origin (other origins, and
 * requests that already carry an Authorization header, are left alone) and keeps a clone of the request. onResponse,
 * when the API refused the token (401 and the provider's variants, `manager.isAuthFailure`), renews it once
 * (`renewRejected`: one refresh shared by every concurrent caller) and sends the clone once more with the new token;
 * whatever that answers is the caller's. Register it last (`client.use(…, authMiddleware(m))`) so it sees the final
 * request. Only openapi-fetch's types are imported: nothing of it is loaded at run time.
 */
import type { Middleware } from "openapi-fetch";
import { isApiOrigin, type TokenSource } from "./types.js";

export type { TokenSource } from "./types.js";

export interface AuthMiddlewareOptions {
  /** Ask for a token valid at least this long (default: the engine's refresh margin). */
  minTtlSeconds?: number;
  /** fetch for the retry (default: the client's own `fetch`, else globalThis.fetch). */
  fetch?: (request: Request) => Promise<Response>;
}

interface Pending {
  token: string;
  /** Unsent copy for the one retry (a body is teed, so it can be sent again). */
  replay: Request;
}

export function authMiddleware(source: TokenSource, options: AuthMiddlewareOptions = {}): Middleware {
  if (!source || typeof source.getToken !== "function" || typeof source.renewRejected !== "function") {
    throw new TypeError("authMiddleware(manager): pass a TokenManager (createTokenManager)");
  }
  // Keyed by openapi-fetch's per-request id (≥ 0.10), which onRequest, onResponse and onError all receive.
  const pending = new Map<string, Pending>();
  return {
    async onRequest({ request, id }) {
      if (!isApiOrigin(source, request.url) || request.headers.has("authorization")) return undefined;
      const t = await source.getToken(
        options.minTtlSeconds !== undefined ? { minTtlSeconds: options.minTtlSeconds } : {},
      );
      request.headers.set("authorization", `Bearer ${t.accessToken}`);
      pending.set(id, { token: t.accessToken, replay: request.clone() });
      return request;
    },
    async onResponse({ response, id, options: clientOptions }) {
      const p = pending.get(id);
      if (!p) return undefined;
      pending.delete(id);
      if (!(await source.isAuthFailure(response))) {
        await p.replay.body?.cancel().catch(() => {});
        return undefined;
      }
      await response.body?.cancel().catch(() => {});
      const fresh = await source.renewRejected(p.token, p.replay.signal ? { signal: p.replay.signal } : {});
      p.replay.headers.set("authorization", `Bearer ${fresh.accessToken}`);
      const send = options.fetch ?? (clientOptions.fetch as AuthMiddlewareOptions["fetch"]) ?? globalThis.fetch;
      // One retry, never a loop.
      return send(p.replay);
    },
    onError({ id }) {
      const p = pending.get(id);
      pending.delete(id);
      p?.replay.body?.cancel().catch(() => {});
      return undefined;
    },
  };
}
