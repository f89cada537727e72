/**
 * The proxy's Prometheus metrics, through prom-client rather than a hand-written exposition: it is the client the
 * Node ecosystem uses (and Prometheus' own docs point to), gets the text format's escaping, HELP/TYPE lines and
 * histogram `_bucket{le="+Inf"}`/`_sum`/`_count` right, and brings the standard process metrics
 * (`process_resident_memory_bytes`, event-loop lag, GC) that dashboards already know — what a hand-written
 * exposition would have to copy. It is loaded only by the proxy. Each proxy has its own Registry (never the global one).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type StatusClass = "1xx" | "2xx" | "3xx" | "4xx" | "5xx";

export function statusClass(status: number): StatusClass {
  return `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx` as StatusClass;
}

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "hpauth_proxy_requests_total",
    help: "Requests answered by the proxy, by profile and status class of the answer (its own 403/502 included)",
    labelNames: ["profile", "code_class"] as const,
    registers: [this.registry],
  });
  readonly upstream = new Counter({
    name: "hpauth_proxy_upstream_responses_total",
    help: "Responses from the upstream API (a 401 that was retried counts, and so does its retry)",
    labelNames: ["profile", "code_class"] as const,
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: "hpauth_proxy_upstream_errors_total",
    help: "Upstream requests that got no response (connection refused, reset, timeout)",
    labelNames: ["profile", "code"] as const,
    registers: [this.registry],
  });
  readonly renewals = new Counter({
    name: "hpauth_proxy_token_renewals_total",
    help: "New access tokens this proxy obtained (refresh or new grant), each counted once however many requests waited for it",
    labelNames: ["profile", "source"] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: "hpauth_proxy_retries_total",
    help: "Requests retried once with a renewed token after the API refused the token",
    labelNames: ["profile"] as const,
    registers: [this.registry],
  });
  readonly notReplayed = new Counter({
    name: "hpauth_proxy_auth_failures_not_retried_total",
    help: "Token refusals passed back as they were because the request body was streamed (too large to replay)",
    labelNames: ["profile"] as const,
    registers: [this.registry],
  });
  readonly tokenFailures = new Counter({
    name: "hpauth_proxy_token_failures_total",
    help: "Requests answered 502 because no token could be had, by engine error code",
    labelNames: ["profile", "code"] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: "hpauth_proxy_rejected_total",
    help: "Requests refused before forwarding (foreign Host, cross-origin browser request, allow-list, bad path)",
    labelNames: ["profile", "reason"] as const,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: "hpauth_proxy_in_flight_requests",
    help: "Requests being forwarded now",
    labelNames: ["profile"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: "hpauth_proxy_request_duration_seconds",
    help: "Time from the request's arrival to the end of the answer (token, upstream and streaming included)",
    labelNames: ["profile"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    // Event-loop lag sampled every 100 ms, not prom-client's default 10 ms: its timer would wake an idle proxy 100
    // times a second (≈ 6 ms of CPU per second on the bench machine, ≈ 40 µs per request at 150 req/s); a stall
    // worth a dashboard's attention is still seen.
    if (options.processMetrics !== false)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
