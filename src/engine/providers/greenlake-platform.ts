/**
 * HPE GreenLake platform (GLP) and new HPE Aruba Networking Central (docs/greenlake-platform.md, with sources).
 * Workspace API clients get tokens by client credentials, from the workspace's own issuer
 * (`{GLP}/authorization/v2/oauth2/{workspaceId}/token`) when the profile names the workspace, else from the HPE SSO
 * (`https://sso.common.cloud.hpe.com/as/token.oauth2`, the PingFederate DSCC uses). Secret in the form body by default
 * (the GLP curl sample), HTTP Basic with `clientAuth: client_secret_basic` (pycentral, requests-oauthlib). No refresh
 * token: a new grant near expiry. Lifetimes differ by credential (15 min for GLP clients, 2 h for Central clients):
 * expires_in and the JWT's exp decide, capped at the longest documented (2 h).
 *
 * An MSP profile (`tenantWorkspaceId`) exchanges its own workspace token for a tenant's (RFC 8693) at the tenant's
 * issuer; the MSP token is a credential of its own, cached under its own key (the manager's subject manager).
 *
 * `new-central` is the same provider with New Central's clusters as regions: the region picks the Central API base
 * (`https://de1.api.central.arubanetworks.com`, …); tokens are the same and share the cache (credentialFamily).
 */
import { HpauthError, isHpauthError } from "../errors.js";
import type { NamedProfile } from "../types.js";
import { clientCredentialsGrant, formPost, processTokenResponse } from "./common.js";
import type { FlowContext, ProviderDefinition, ResolvedProfile, TokenSet } from "./types.js";

export const GLP_API_BASE = "https://global.api.greenlake.hpe.com";
export const HPE_SSO_TOKEN_URL = "https://sso.common.cloud.hpe.com/as/token.oauth2";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/**
 * New Central's API gateways by cluster, as aruba/pycentral 2.x lists them (`CLUSTER_BASE_URLS`, which points at
 * developer.arubanetworks.com/new-central "API Gateway Base URLs"). Names as pycentral spells them.
 */
export const NEW_CENTRAL_CLUSTERS: Record<string, string> = {
  "EU-1": "https://de1.api.central.arubanetworks.com",
  "EU-Central2": "https://de2.api.central.arubanetworks.com",
  "EU-Central3": "https://de3.api.central.arubanetworks.com",
  UK: "https://gb1.api.central.arubanetworks.com",
  "US-1": "https://us1.api.central.arubanetworks.com",
  "US-2": "https://us2.api.central.arubanetworks.com",
  "US-WEST-4": "https://us4.api.central.arubanetworks.com",
  "US-WEST-5": "https://us5.api.central.arubanetworks.com",
  "US-East1": "https://us6.api.central.arubanetworks.com",
  "Canada-1": "https://ca1.api.central.arubanetworks.com",
  "APAC-1": "https://in1.api.central.arubanetworks.com",
  "APAC-EAST1": "https://jp1.api.central.arubanetworks.com",
  "APAC-SOUTH1": "https://au1.api.central.arubanetworks.com",
  UAE: "https://ae1.api.central.arubanetworks.com",
  China: "https://cn1.api.central.arubanetworks.com.cn",
};

/** Workspace ids as the UI shows them (32 hex digits); integrators strip the hyphens of UUID-style ones. */
function workspace(field: string, value: string | undefined, problems: string[]): string | undefined {
  if (value === undefined || value === "") return undefined;
  const v = value.trim().replace(/-/g, "");
  if (!/^[A-Za-z0-9]{1,64}$/.test(v)) {
    problems.push(`${field}: "${value}" is not a workspace id (letters and digits, as GreenLake shows it)`);
    return undefined;
  }
  return v;
}

async function clientCredentials(ctx: FlowContext): Promise<TokenSet> {
  const p = ctx.profile;
  try {
    return await clientCredentialsGrant(ctx, "GreenLake platform token request");
  } catch (e) {
    if (isHpauthError(e) && e.code === "INVALID_CLIENT" && p.workspaceId) {
      throw new HpauthError(e.code, e.message, {
        ...(e.provider ? { provider: e.provider } : {}),
        ...(e.profile ? { profile: e.profile } : {}),
        ...(e.status !== undefined ? { status: e.status } : {}),
        ...(e.oauthError ? { oauthError: e.oauthError } : {}),
        hint: `Check the client id and secret, and that the API client was created in workspace ${p.workspaceId} (an API client belongs to one workspace).`,
        cause: e,
      });
    }
    throw e;
  }
}

/** RFC 8693 §2.1 at the tenant's issuer: the MSP token as subject, no client authentication (as integrators send it). */
async function exchange(ctx: FlowContext, subject: string): Promise<{ set?: TokenSet; subjectRefused?: HpauthError }> {
  const p = ctx.profile;
  const res = await formPost(
    ctx.http,
    p.tokenUrl ?? "",
    {
      grant_type: TOKEN_EXCHANGE,
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
    },
    {},
    `MSP token exchange for workspace ${p.tenantWorkspaceId}`,
  );
  try {
    return {
      set: processTokenResponse(ctx.http, res, "login", `MSP token exchange for workspace ${p.tenantWorkspaceId}`),
    };
  } catch (e) {
    if (isHpauthError(e) && e.oauthError === "invalid_target") {
      throw new HpauthError("INVALID_GRANT", e.message, {
        provider: p.provider,
        profile: p.name,
        ...(e.status !== undefined ? { status: e.status } : {}),
        oauthError: "invalid_target",
        hint: `Workspace ${p.tenantWorkspaceId} is not a tenant of the MSP workspace ${p.workspaceId}: check tenant_workspace_id (GET /workspaces/v1/msp-tenants lists them).`,
        cause: e,
      });
    }
    // RFC 8693 §2.2.2: an unacceptable subject token is `invalid_request`; a 401 says the same in other words.
    const oauthError = isHpauthError(e) ? e.oauthError : undefined;
    if (
      isHpauthError(e) &&
      (res.status === 401 || oauthError === "invalid_request" || oauthError === "invalid_grant")
    ) {
      return { subjectRefused: e };
    }
    throw e;
  }
}

async function login(ctx: FlowContext): Promise<TokenSet> {
  const p = ctx.profile;
  if (!p.tenantWorkspaceId) return clientCredentials(ctx);
  if (!ctx.subjectToken) throw new HpauthError("INTERNAL", "token exchange without a subject token source");
  const subject = await ctx.subjectToken();
  const first = await exchange(ctx, subject);
  if (first.set) return first.set;
  // The MSP token was refused as a subject (revoked, expired early): one new MSP token, one more exchange.
  const second = await exchange(ctx, await ctx.subjectToken(subject));
  if (second.set) return second.set;
  const e = second.subjectRefused ?? first.subjectRefused;
  throw new HpauthError("INVALID_GRANT", e?.message ?? "MSP token exchange refused", {
    provider: p.provider,
    profile: p.name,
    ...(e?.status !== undefined ? { status: e.status } : {}),
    hint: `Check that workspace ${p.tenantWorkspaceId} is a tenant of the MSP workspace ${p.workspaceId} and that the API client may act for it.`,
  });
}

export const greenlakePlatform: ProviderDefinition = {
  id: "greenlake-platform",
  title: "HPE GreenLake platform",
  defaultBaseUrl: GLP_API_BASE,
  fields: [
    { name: "clientId", required: true, description: "API client id (Manage Workspace → Personal API clients)" },
    { name: "clientSecret", required: true, secret: true, description: "API client secret (shown once at creation)" },
    {
      name: "workspaceId",
      required: false,
      description: "workspace id of the API client (tokens from the workspace's issuer; part of the cache key)",
    },
    {
      name: "tenantWorkspaceId",
      required: false,
      description: "MSP only: a tenant workspace to exchange the MSP token for (RFC 8693)",
    },
    { name: "clientAuth", required: false, description: "client_secret_post (default) or client_secret_basic" },
    { name: "apiBaseUrl", required: false, description: "API origin (default https://global.api.greenlake.hpe.com)" },
  ],
  // 15 min for GLP credentials, 2 h for Central credentials: the response decides, never more than 2 h.
  maxLifetimeSeconds: 7200,
  defaultLifetimeSeconds: 900,
  acceptsTokenUrl: true,
  supportsRefresh: () => false,
  interactive: () => false,
  resolve(input, p, problems) {
    const ws = workspace("workspaceId", input.workspaceId, problems);
    const tenant = workspace("tenantWorkspaceId", input.tenantWorkspaceId, problems);
    if (ws) p.workspaceId = ws;
    if (tenant) p.tenantWorkspaceId = tenant;
    const issuer = (id: string) => `${p.baseUrl}/authorization/v2/oauth2/${id}/token`;
    if (tenant) {
      if (!ws) problems.push("tenantWorkspaceId: needs workspaceId, the MSP workspace whose token is exchanged");
      if (input.tokenUrl) problems.push("tokenUrl: not used with tenantWorkspaceId (the tenant's issuer is used)");
      if (tenant === ws) problems.push("tenantWorkspaceId: is the MSP workspace itself; leave it out");
      p.tokenUrl = issuer(tenant);
    } else if (!p.tokenUrl) {
      if (ws) p.tokenUrl = issuer(ws);
      else if (input.baseUrl) {
        // The SSO is another host: with the GLP origin overridden, sending the secret to the real SSO would surprise.
        problems.push(
          "workspaceId: required when baseUrl is overridden (or give tokenUrl, e.g. the SSO's …/as/token.oauth2)",
        );
      } else p.tokenUrl = HPE_SSO_TOKEN_URL;
    }
    // The APIs live on the GLP origin whichever endpoint issues the token (the SSO, a token_url override).
    p.apiBaseUrl ??= p.baseUrl;
    p.clientAuth ??= "client_secret_post";
    if (p.clientAuth === "none") {
      problems.push('clientAuth: GreenLake needs "client_secret_post" or "client_secret_basic"');
    }
  },
  subjectProfile(input: NamedProfile, p: ResolvedProfile): NamedProfile | undefined {
    if (!p.tenantWorkspaceId) return undefined;
    const { tenantWorkspaceId: _tenant, ...own } = input;
    return { ...own, name: `${input.name} (MSP workspace)` };
  },
  login,
};

export const newCentral: ProviderDefinition = {
  ...greenlakePlatform,
  id: "new-central",
  title: "HPE Aruba Networking Central (new Central, on GreenLake)",
  regionLabel: "cluster",
  regions: Object.fromEntries(
    Object.entries(NEW_CENTRAL_CLUSTERS).map(([name, api]) => [name, { baseUrl: GLP_API_BASE, apiBaseUrl: api }]),
  ),
  credentialFamily: "greenlake-platform",
  resolve(input, p, problems) {
    greenlakePlatform.resolve(input, p, problems);
    if (!input.region && !input.apiBaseUrl && !input.baseUrl) {
      problems.push(
        `region: a New Central cluster is needed (${Object.keys(NEW_CENTRAL_CLUSTERS).join(", ")}), or apiBaseUrl`,
      );
    }
  },
  fields: [
    {
      name: "region",
      required: false,
      description: `New Central cluster (${Object.keys(NEW_CENTRAL_CLUSTERS).join(", ")}) or give apiBaseUrl`,
    },
    ...greenlakePlatform.fields.filter((f) => f.name !== "apiBaseUrl"),
    { name: "apiBaseUrl", required: false, description: "New Central API origin (default from the cluster)" },
  ],
};
