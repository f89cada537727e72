/** What a provider module gets: the shared state, the resolved configuration, keys, and a per-request context. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Headers } from "./http.js";
import type { SigningKey } from "./jwt.js";
import type { EmulatorState } from "./state.js";
import type { EmulatedProvider, FaultEndpoint } from "./types.js";

export interface ResolvedCredentials {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
  customerId: string;
  redirectUris: string[];
  /** greenlake-platform only ("" elsewhere / [] elsewhere). */
  workspaceId: string;
  tenantWorkspaceIds: string[];
}

export interface ResolvedLifetimes {
  accessSeconds: number;
  refreshSeconds: number;
  codeSeconds: number;
}

export interface ResolvedConfig {
  creds: Record<EmulatedProvider, ResolvedCredentials>;
  life: Record<EmulatedProvider, ResolvedLifetimes>;
  bodyLimitBytes: number;
  techpulseExpiresInMillis: boolean;
  techpulseLatestTokenOnly: boolean;
  revokeFamilyOnRefreshReuse: boolean;
  arubaNewTokenIntervalSeconds: number;
  arubaApiPerDay: number;
  arubaApiPerSecond: number;
  /** Filled in once the origins listen. */
  baseUrls: Record<EmulatedProvider, string>;
}

export interface Env {
  state: EmulatorState;
  config: ResolvedConfig;
  keys: Record<"wxp" | "greenlake" | "hpe-identity", SigningKey>;
}

export interface Ctx extends Env {
  provider: EmulatedProvider;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The request body, read up front (bounded by bodyLimitBytes). */
  body: Buffer;
  /** Counts a refusal under `reason` (for the counters and the verbose log) and sends the answer. */
  refuse(reason: string, status: number, body: unknown, headers?: Headers): void;
  /** The refusal reason, if one was sent (for the verbose log). */
  refusal?: string;
}

export interface Route {
  method: string;
  /** Exact path, or a pattern whose groups the handler reads from ctx.url. */
  path: string | RegExp;
  /** Which fault `endpoint` values match this route. */
  endpoints: readonly FaultEndpoint[];
  /** Counted as a token-endpoint request or a protected API call before anything else happens. */
  counts?: "tokenRequests" | "apiCalls";
  /** The handler reads `ctx.req` itself (unbounded, streamed uploads); `ctx.body` is then empty. */
  streamsBody?: boolean;
  handle(ctx: Ctx): Promise<void> | void;
}
