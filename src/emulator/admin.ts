/** The admin API (docs/ARCHITECTURE.md, "Emulator contract") and its in-process client. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyTooLarge, parseJsonObject, readBody, sendJson } from "./http.js";
import type { EmulatorState } from "./state.js";
import {
  type AdminClient,
  type ClockState,
  type Counters,
  EMULATED_PROVIDERS,
  type EmulatedProvider,
  type FaultSpec,
} from "./types.js";

const FAULT_ENDPOINTS = ["authorize", "login", "code", "token", "api", "*"];
const FAULT_TYPES = ["status", "delay", "malformed", "truncated", "html", "drop", "echo"];

export function clockState(state: EmulatorState): ClockState {
  const epochMs = state.now();
  return { now: new Date(epochMs).toISOString(), epochMs, offsetSeconds: state.offsetMs / 1000 };
}

const isProvider = (p: unknown): p is EmulatedProvider => EMULATED_PROVIDERS.includes(p as EmulatedProvider);
const isInt = (v: unknown, min: number, max: number) =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** Validates a fault request; returns an error message or the spec. */
export function parseFault(body: Record<string, unknown>): FaultSpec | string {
  const { provider, endpoint, type, status, retryAfter, delayMs, count } = body;
  if (provider !== "*" && !isProvider(provider)) return `provider must be one of ${EMULATED_PROVIDERS.join(", ")} or *`;
  if (typeof endpoint !== "string" || !FAULT_ENDPOINTS.includes(endpoint)) {
    return `endpoint must be one of ${FAULT_ENDPOINTS.join(", ")}`;
  }
  if (typeof type !== "string" || !FAULT_TYPES.includes(type)) return `type must be one of ${FAULT_TYPES.join(", ")}`;
  if (status !== undefined && !isInt(status, 100, 599)) return "status must be an HTTP status code";
  if (retryAfter !== undefined && !isInt(retryAfter, 0, 86_400)) return "retryAfter must be whole seconds (0-86400)";
  if (delayMs !== undefined && !isInt(delayMs, 0, 600_000)) return "delayMs must be whole milliseconds (0-600000)";
  if (count !== undefined && !isInt(count, 1, 1_000_000)) return "count must be a positive integer";
  return {
    provider: provider as FaultSpec["provider"],
    endpoint: endpoint as FaultSpec["endpoint"],
    type: type as FaultSpec["type"],
    ...(status !== undefined ? { status: status as number } : {}),
    ...(retryAfter !== undefined ? { retryAfter: retryAfter as number } : {}),
    ...(delayMs !== undefined ? { delayMs: delayMs as number } : {}),
    ...(count !== undefined ? { count: count as number } : {}),
  };
}

export async function handleAdmin(
  state: EmulatorState,
  index: () => unknown,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? "/", "http://admin").pathname.replace(/\/+$/, "") || "/";
  const method = req.method ?? "GET";
  let body: Record<string, unknown> = {};
  try {
    const raw = await readBody(req, 64 * 1024);
    if (raw.length) {
      const parsed = parseJsonObject(raw);
      if (!parsed) return sendJson(res, 400, { error: "the body must be a JSON object" });
      body = parsed;
    }
  } catch (e) {
    if (e instanceof BodyTooLarge) return sendJson(res, 413, { error: "body too large" }, { connection: "close" });
    throw e;
  }
  const route = `${method} ${path}`;
  switch (route) {
    case "GET /":
      return sendJson(res, 200, index());
    case "GET /clock":
      return sendJson(res, 200, clockState(state));
    case "POST /clock/advance": {
      const s = body.seconds;
      if (typeof s !== "number" || !Number.isFinite(s) || s < 0) {
        return sendJson(res, 400, { error: "seconds must be a finite number ≥ 0 (the clock only moves forward)" });
      }
      state.offsetMs += Math.round(s * 1000);
      return sendJson(res, 200, clockState(state));
    }
    case "GET /faults":
      return sendJson(res, 200, { faults: state.faults });
    case "POST /faults": {
      const spec = parseFault(body);
      if (typeof spec === "string") return sendJson(res, 400, { error: spec });
      state.addFault(spec);
      return sendJson(res, 201, { ok: true, pending: state.faults.length });
    }
    case "DELETE /faults": {
      const n = state.faults.length;
      state.faults = [];
      return sendJson(res, 200, { cleared: n });
    }
    case "POST /revoke": {
      if (!isProvider(body.provider)) return sendJson(res, 400, { error: "provider is required" });
      if (body.token !== undefined && typeof body.token !== "string") {
        return sendJson(res, 400, { error: "token must be a string" });
      }
      const n = state.revoke(body.provider, body.token as string | undefined);
      if (n === undefined) return sendJson(res, 404, { error: "no such token for this provider", revoked: 0 });
      return sendJson(res, 200, { revoked: n });
    }
    case "GET /counters":
      return sendJson(res, 200, state.counters);
    case "POST /counters/reset":
      state.resetCounters();
      return sendJson(res, 200, { ok: true });
    case "POST /reset":
      state.reset();
      return sendJson(res, 200, { ok: true });
    default: {
      const known = ["/", "/clock", "/clock/advance", "/faults", "/revoke", "/counters", "/counters/reset", "/reset"];
      return sendJson(res, known.includes(path) ? 405 : 404, { error: `no ${route} here` });
    }
  }
}

/** Thin client over the admin HTTP API (usable against any running emulator, in process or not). */
export function createAdminClient(adminUrl: string, fetchImpl: typeof fetch = globalThis.fetch): AdminClient {
  const call = async <T>(method: string, path: string, body?: unknown, ok404 = false): Promise<T> => {
    const res = await fetchImpl(new URL(path, adminUrl), {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json().catch(() => ({}))) as T & { error?: string };
    if (!res.ok && !(ok404 && res.status === 404)) {
      throw new Error(`emulator admin ${method} ${path}: HTTP ${res.status}${json.error ? `: ${json.error}` : ""}`);
    }
    return json;
  };
  return {
    clock: () => call<ClockState>("GET", "/clock"),
    advanceClock: (seconds) => call<ClockState>("POST", "/clock/advance", { seconds }),
    fault: async (spec) => {
      await call("POST", "/faults", spec);
    },
    clearFaults: async () => {
      await call("DELETE", "/faults");
    },
    revoke: async (provider, token) =>
      (await call<{ revoked: number }>("POST", "/revoke", { provider, ...(token ? { token } : {}) }, true)).revoked,
    counters: () => call<Counters>("GET", "/counters"),
    resetCounters: async () => {
      await call("POST", "/counters/reset");
    },
    reset: async () => {
      await call("POST", "/reset");
    },
  };
}
