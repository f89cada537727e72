/**
 * HPE Aruba Networking Central (seed 003): a three-step login (credentials → session + CSRF cookies → auth code →
 * token, JSON bodies) that may create at most ONE token per client id per 30 minutes, and a query-string refresh
 * that rotates the refresh token. The manager enforces the budget across processes (a record in the store) and
 * prefers refresh; this file only speaks the protocol.
 */
import { HpauthError, isHpauthError } from "../errors.js";
import {
  type BufferedResponse,
  describeBody,
  type HttpContext,
  parseRetryAfter,
  type SendOptions,
  send,
} from "../http.js";
import { knowing, processTokenResponse, tokenError } from "./common.js";
import type { FlowContext, ProviderDefinition } from "./types.js";

export const ARUBA_LOGIN_WINDOW_SECONDS = 30 * 60;
/** Refresh tokens die after ~15 idle days (public clients; providers.md); warn from 12. */
const IDLE_DAYS = 15;
const IDLE_WARN_DAYS = 12;
const DAY = 86_400_000;

const CLUSTERS: Record<string, string> = {
  "US-1": "https://app1-apigw.central.arubanetworks.com",
  "US-2": "https://apigw-prod2.central.arubanetworks.com",
  "US-East1": "https://apigw-us-east-1.central.arubanetworks.com",
  "US-West4": "https://apigw-uswest4.central.arubanetworks.com",
  "EU-1": "https://eu-apigw.central.arubanetworks.com",
  "EU-Central2": "https://apigw-eucentral2.central.arubanetworks.com",
  "EU-Central3": "https://apigw-eucentral3.central.arubanetworks.com",
  "Canada-1": "https://apigw-ca.central.arubanetworks.com",
  "China-1": "https://apigw.central.arubanetworks.com.cn",
  "APAC-1": "https://api-ap.central.arubanetworks.com",
  "APAC-EAST1": "https://apigw-apaceast.central.arubanetworks.com",
  "APAC-SOUTH1": "https://apigw-apacsouth.central.arubanetworks.com",
  "UAE-NORTH1": "https://apigw-uaenorth1.central.arubanetworks.com",
};

function jsonPost(
  http: HttpContext,
  url: URL,
  body: unknown,
  headers: Record<string, string>,
  what: string,
  noRetry: number[] = [],
  extra: Pick<SendOptions, "once" | "lostHint"> = {},
) {
  return send(
    http,
    url,
    {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    },
    { what, expectJson: true, noRetryStatuses: noRetry, ...extra },
  );
}

/** What to do when step 3's answer is lost: the token may exist, and Central counts it against the budget. */
const STEP3_LOST_HINT =
  "Central may have created the token and counted it against its one-login-per-30-minutes budget, so the budget stays claimed for 30 minutes; then run `hpauth login` again, or import a token pair from the Central UI now (`hpauth login --import`).";

function budgetRefusal(ctx: FlowContext, res: BufferedResponse, step: string): HpauthError {
  const now = ctx.http.runtime.now();
  // parseRetryAfter bounds the value: `Retry-After: 99999999999999` made an Invalid Date (a RangeError below).
  const ra = parseRetryAfter(res.headers.get("retry-after"), now);
  const retryAt = new Date(now + (ra !== undefined && ra > 0 ? ra * 1000 : ARUBA_LOGIN_WINDOW_SECONDS * 1000));
  return new HpauthError(
    "LOGIN_BUDGET_EXHAUSTED",
    `Aruba Central refused ${step}: one new token per client id per 30 minutes (next login allowed at ${retryAt.toISOString()})`,
    {
      provider: "aruba-central",
      profile: ctx.profile.name,
      status: res.status,
      retryAt,
      hint: "Another process or tool created a token for this client id recently; wait, or import a token pair from the Central UI.",
    },
  );
}

/** The cookie values from Set-Cookie headers (name → value). */
function cookies(res: BufferedResponse): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of res.headers.getSetCookie()) {
    const [pair = ""] = c.split(";");
    const eq = pair.indexOf("=");
    if (eq > 0) out.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return out;
}

/** Steps 1 and 2: credentials → session + CSRF cookies → authorization code (valid 300 s: exchanged at once). */
async function authorizationCode(ctx: FlowContext, base: string, clientId: string, password: string): Promise<string> {
  const p = ctx.profile;
  // Step 1: credentials → session + CSRF cookies.
  const loginUrl = new URL(`${base}/oauth2/authorize/central/api/login`);
  loginUrl.searchParams.set("client_id", clientId);
  const step1 = await jsonPost(
    ctx.http,
    loginUrl,
    { username: p.username, password },
    {},
    "Aruba login (step 1)",
    [429],
  );
  if (step1.status === 429) throw budgetRefusal(ctx, step1, "the login");
  if (step1.status !== 200) {
    throw new HpauthError(
      step1.status === 401 || step1.status === 403 ? "INVALID_GRANT" : "UNAUTHORIZED",
      `Aruba login (step 1) refused: HTTP ${step1.status}: ${describeBody(step1.text, ctx.http.secrets(), 200)}`,
      {
        provider: p.provider,
        profile: p.name,
        status: step1.status,
        hint: "Check the username, password and client id.",
      },
    );
  }
  const jar = cookies(step1);
  const session = jar.get("session");
  const csrf = jar.get("csrftoken");
  if (!session || !csrf) {
    throw new HpauthError("INVALID_RESPONSE", "Aruba login (step 1): no session/csrftoken cookies in the answer", {
      provider: p.provider,
      profile: p.name,
      status: step1.status,
    });
  }
  // The session and CSRF values, then the code, are secrets a server may echo into the next error body.
  const http = knowing(ctx.http, session, csrf);
  // Step 2: session → authorization code (valid 300 s: exchanged at once).
  const codeUrl = new URL(`${base}/oauth2/authorize/central/api`);
  codeUrl.searchParams.set("client_id", clientId);
  codeUrl.searchParams.set("response_type", "code");
  codeUrl.searchParams.set("scope", p.scope ?? "all");
  const step2 = await jsonPost(
    http,
    codeUrl,
    { customer_id: p.customerId },
    { cookie: `session=${session}`, "x-csrf-token": csrf },
    "Aruba authorization code (step 2)",
    [429],
  );
  if (step2.status === 429) throw budgetRefusal(ctx, step2, "a new authorization code");
  const code = (step2.json as { auth_code?: unknown } | undefined)?.auth_code;
  if (step2.status !== 200 || typeof code !== "string" || code === "") {
    if (step2.status === 200) {
      throw new HpauthError("INVALID_RESPONSE", "Aruba authorization code (step 2): no auth_code in the answer", {
        provider: p.provider,
        profile: p.name,
      });
    }
    throw tokenError(http, step2, "login", "Aruba authorization code (step 2)");
  }
  return code;
}

export const arubaCentral: ProviderDefinition = {
  id: "aruba-central",
  title: "HPE Aruba Networking Central",
  regionLabel: "cluster",
  regions: Object.fromEntries(Object.entries(CLUSTERS).map(([k, v]) => [k, { baseUrl: v }])),
  fields: [
    { name: "region", required: false, description: `cluster: ${Object.keys(CLUSTERS).join(", ")} (or give baseUrl)` },
    { name: "clientId", required: true, description: "client id of the API Gateway application" },
    { name: "clientSecret", required: true, secret: true, description: "client secret of the API Gateway application" },
    { name: "customerId", required: false, description: "Central customer id (needed for the OAuth login)" },
    {
      name: "username",
      required: false,
      description: "Central user (needed for the OAuth login; non-SSO accounts only)",
    },
    {
      name: "password",
      required: false,
      secret: true,
      description: "that user's password (needed for the OAuth login)",
    },
    { name: "scope", required: false, description: "all (read-write, default) or read" },
  ],
  maxLifetimeSeconds: 7200,
  defaultLifetimeSeconds: 7200,
  loginBudget: { windowSeconds: ARUBA_LOGIN_WINDOW_SECONDS },
  refreshTokenIdleSeconds: IDLE_DAYS * 86_400,
  supportsRefresh: () => true,
  interactive: () => false,
  resolve(input, p, problems) {
    p.tokenUrl = `${p.baseUrl}/oauth2/token`;
    p.apiBaseUrl ??= p.baseUrl;
    p.scope ??= "all";
    if (p.scope !== "all" && p.scope !== "read")
      problems.push(`scope: Aruba Central takes "all" or "read", not "${input.scope}"`);
  },
  async login(ctx) {
    const p = ctx.profile;
    const missing = [
      ...(p.username ? [] : ["username"]),
      ...(p.password ? [] : ["password (or passwordEnv / passwordCommand)"]),
      ...(p.customerId ? [] : ["customerId"]),
    ];
    if (missing.length > 0) {
      throw new HpauthError(
        "CONFIG_INVALID",
        `Profile "${p.name}": an Aruba Central login needs ${missing.join(", ")}`,
        {
          provider: p.provider,
          profile: p.name,
          hint: `Add them to the profile, or (SSO/MFA accounts) import a token pair from the Central UI: \`hpauth login --profile ${p.name} --import\`.`,
        },
      );
    }
    const base = p.baseUrl;
    const clientId = p.clientId ?? "";
    // Both secrets first: failing to read one must not happen after step 1 has spent the login budget.
    const password = await ctx.password();
    const clientSecret = await ctx.clientSecret();
    // Steps 1 and 2 create no token: Central counts new access tokens, made by step 3 (seed 003 checks its limit at
    // steps 1 and 2; the emulator spends it on a successful step 3). So whatever goes wrong before step 3 is sent —
    // a refusal, a 5xx, a timeout, a dropped connection — spends nothing, and the claim is released. Except a 429:
    // that is Central saying the budget is already spent (by another tool), and the claim then stays. Should Central
    // ever count step-1 attempts after all, its own 429 at the next step 1 corrects us at no cost.
    let code: string;
    try {
      code = await authorizationCode(ctx, base, clientId, password);
    } catch (e) {
      if (!(isHpauthError(e) && e.code === "LOGIN_BUDGET_EXHAUSTED")) await ctx.releaseLoginBudget?.();
      throw e;
    }
    // Step 3: code → tokens, JSON body as documented. Sent once: a lost answer may be a token (and a budget) spent.
    let step3: BufferedResponse;
    try {
      step3 = await jsonPost(
        knowing(ctx.http, code),
        new URL(`${base}/oauth2/token`),
        { client_id: clientId, client_secret: clientSecret, grant_type: "authorization_code", code },
        {},
        "Aruba token (step 3)",
        [],
        { once: "code", lostHint: STEP3_LOST_HINT },
      );
    } catch (e) {
      // ANSWER_LOST (timeout, connection lost after sending, a 2xx whose body cannot be read): a token may have been
      // created, the claim stays. Anything else send() throws is proof that none was: an error status after the
      // retries (5xx, 429, a gateway's HTML error page — the server did not fulfil the request, RFC 9110 §15.6), a
      // connection that was never made, or a cancellation between attempts (nothing was in flight).
      if (!(isHpauthError(e) && e.code === "ANSWER_LOST")) await ctx.releaseLoginBudget?.();
      throw e;
    }
    // A 4xx refusal (expired code, wrong secret) issued nothing (RFC 6749 §5.2). A 2xx did create a token, even
    // when its body turns out unusable (no access_token): processTokenResponse throws then and the claim stays.
    if (step3.status < 200 || step3.status >= 300) await ctx.releaseLoginBudget?.();
    return processTokenResponse(knowing(ctx.http, code), step3, "code", "Aruba token (step 3)");
  },
  async refresh(ctx, refreshToken) {
    const p = ctx.profile;
    // Documented as query parameters with no body; the secret in a URL is Aruba's design, so the URL is never logged.
    const url = new URL(`${p.baseUrl}/oauth2/token`);
    url.searchParams.set("client_id", p.clientId ?? "");
    url.searchParams.set("client_secret", await ctx.clientSecret());
    url.searchParams.set("grant_type", "refresh_token");
    url.searchParams.set("refresh_token", refreshToken);
    const res = await send(
      ctx.http,
      url,
      { method: "POST", headers: { "content-type": "application/json", accept: "application/json" } },
      { what: "Aruba token refresh", expectJson: true, once: "refresh" },
    );
    return processTokenResponse(ctx.http, res, "refresh", "Aruba token refresh");
  },
  warnings(_p, record, now) {
    if (!record?.refreshToken) return [];
    const last = record.lastRefreshAt ?? record.refreshTokenIssuedAt ?? record.obtainedAt;
    if (last === undefined) return [];
    const idleDays = (now - last) / DAY;
    if (idleDays > IDLE_WARN_DAYS) {
      return [
        `the Aruba refresh token has been idle ${Math.floor(idleDays)} days; it stops working after about ${IDLE_DAYS}: run \`hpauth keepalive\` (or \`hpauth token\`) to refresh it now`,
      ];
    }
    return [];
  },
};

export const ARUBA_CLUSTERS = Object.keys(CLUSTERS);
