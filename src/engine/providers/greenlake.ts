/**
 * HPE GreenLake Data Services Cloud Console (seed 002): client credentials at the GreenLake SSO, secret in the form
 * body by default (curl/PowerShell samples) or HTTP Basic (python sample) with `clientAuth: client_secret_basic`.
 * No refresh token: a new grant near expiry. Lifetimes differ by client type (2 h, 15 min for personal clients),
 * so the response's expires_in and the JWT exp decide, capped at the documented 2 h.
 */
import { clientCredentialsGrant } from "./common.js";
import type { ProviderDefinition } from "./types.js";

export const greenlake: ProviderDefinition = {
  id: "greenlake",
  title: "HPE GreenLake Data Services Cloud Console",
  regionLabel: "API region",
  regions: {
    eu1: { baseUrl: "https://sso.common.cloud.hpe.com", apiBaseUrl: "https://eu1.data.cloud.hpe.com" },
    jp1: { baseUrl: "https://sso.common.cloud.hpe.com", apiBaseUrl: "https://jp1.data.cloud.hpe.com" },
    us1: { baseUrl: "https://sso.common.cloud.hpe.com", apiBaseUrl: "https://us1.data.cloud.hpe.com" },
  },
  defaultBaseUrl: "https://sso.common.cloud.hpe.com",
  fields: [
    { name: "region", required: false, description: "DSCC API region: eu1, jp1 or us1 (or give apiBaseUrl)" },
    { name: "clientId", required: true, description: "API client id (GreenLake API client credentials)" },
    { name: "clientSecret", required: true, secret: true, description: "API client secret (shown once at creation)" },
    { name: "clientAuth", required: false, description: "client_secret_post (default) or client_secret_basic" },
    { name: "apiBaseUrl", required: false, description: "DSCC API origin (default from region, or the base URL)" },
  ],
  maxLifetimeSeconds: 7200,
  defaultLifetimeSeconds: 900,
  supportsRefresh: () => false,
  interactive: () => false,
  resolve(_input, p, problems) {
    p.tokenUrl = `${p.baseUrl}/as/token.oauth2`;
    p.clientAuth ??= "client_secret_post";
    if (p.clientAuth === "none")
      problems.push('clientAuth: GreenLake needs "client_secret_post" or "client_secret_basic"');
  },
  async login(ctx) {
    return clientCredentialsGrant(ctx, "GreenLake token request");
  },
};
