/**
 * HPE Identity Service, Entitlement Engine (seed 004): client credentials with HTTP Basic and
 * `grant_type=client_credentials&client_id=…` in the form body (the id must match the header). The environment
 * (FUT/ITG/PRO) decides the base URL, so there is no default. Its 401 bodies echo the token: every body that
 * reaches a message goes through redact().
 */
import { basicAuth, formPost, processTokenResponse } from "./common.js";
import type { ProviderDefinition } from "./types.js";

export const hpeIdentity: ProviderDefinition = {
  id: "hpe-identity",
  title: "HPE Identity Service (Entitlement Engine)",
  baseUrlHint:
    "set baseUrl to the environment's gateway, e.g. https://api-gw.support.hpe.com/apigwext (production) or your ITG/FUT base",
  fields: [
    { name: "baseUrl", required: true, description: "gateway base, e.g. https://api-gw.support.hpe.com/apigwext" },
    { name: "clientId", required: true, description: "client id" },
    { name: "clientSecret", required: true, secret: true, description: "client secret" },
    { name: "apiBaseUrl", required: false, description: "Entitlement API base (default: the base URL)" },
  ],
  maxLifetimeSeconds: 3600,
  defaultLifetimeSeconds: 3599,
  supportsRefresh: () => false,
  interactive: () => false,
  resolve(_input, p) {
    p.tokenUrl = `${p.baseUrl}/services/oauth/token`;
    p.apiBaseUrl ??= p.baseUrl;
  },
  async login(ctx) {
    const p = ctx.profile;
    const secret = await ctx.clientSecret();
    const res = await formPost(
      ctx.http,
      p.tokenUrl ?? "",
      { grant_type: "client_credentials", client_id: p.clientId, ...p.tokenParams },
      { authorization: basicAuth(p.clientId ?? "", secret) },
      "HPE Identity token request",
    );
    return processTokenResponse(ctx.http, res, "login", "HPE Identity token request");
  },
};
