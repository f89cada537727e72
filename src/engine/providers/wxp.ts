/**
 * HP WXP Collaboration Query Service (seed 001): a Keycloak-style password grant by the public client
 * "WXP Collaboration". Its refresh token is documented as NOT IMPLEMENTED, so the engine re-authenticates with the
 * stored credentials before the 300 s token expires (proactively, through the refresh margin) and never refreshes.
 * The seed asks for a `Host: login.wxpcollaboration.hp.com` header: fetch sets Host from the URL, which is that
 * host in production (and must not be forged when the base URL points elsewhere).
 */
import { formPost, processTokenResponse } from "./common.js";
import type { ProviderDefinition } from "./types.js";

export const WXP_CLIENT_ID = "WXP Collaboration";

export const wxp: ProviderDefinition = {
  id: "wxp",
  title: "HP WXP Collaboration Query Service",
  defaultBaseUrl: "https://login.wxpcollaboration.hp.com",
  fields: [
    { name: "username", required: true, description: "WXP Collaboration user name" },
    { name: "password", required: true, secret: true, description: "WXP Collaboration password" },
    { name: "clientId", required: false, description: `OAuth client (default "${WXP_CLIENT_ID}")` },
    { name: "apiBaseUrl", required: false, description: "Query Service API origin (default: the base URL)" },
  ],
  maxLifetimeSeconds: 300,
  defaultLifetimeSeconds: 300,
  supportsRefresh: () => false,
  interactive: () => false,
  resolve(_input, p) {
    p.clientId ??= WXP_CLIENT_ID;
    p.tokenUrl = `${p.baseUrl}/auth/login`;
    p.apiBaseUrl ??= p.baseUrl;
  },
  async login(ctx) {
    const p = ctx.profile;
    const res = await formPost(
      ctx.http,
      p.tokenUrl ?? "",
      { grant_type: "password", client_id: p.clientId, username: p.username, password: await ctx.password() },
      {},
      "WXP login",
    );
    const set = processTokenResponse(ctx.http, res, "login", "WXP login");
    // Documented NOT IMPLEMENTED: keeping it would only invite a refresh that fails.
    delete set.refreshToken;
    return set;
  },
};
