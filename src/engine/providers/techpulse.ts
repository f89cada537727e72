/**
 * HP TechPulse Analytics / Proactive Management (seed 000): browser authorization code; the code exchange carries
 * client_id + client_secret in the form body, the refresh uses HTTP Basic + Accept: application/json, and every
 * refresh rotates the refresh token. The sample `expires_in: 1799999` is capped at the documented 30 minutes.
 */
import { HpauthError } from "../errors.js";
import { basicAuth, formPost, knowing, processTokenResponse } from "./common.js";
import type { ProviderDefinition } from "./types.js";

const SECRET_LIFETIME_DAYS = 365;
const SECRET_WARN_DAYS = 30;
const DAY = 86_400_000;

export const techpulse: ProviderDefinition = {
  id: "techpulse",
  title: "HP TechPulse Analytics",
  regionLabel: "region",
  regions: {
    us: { baseUrl: "https://daas.api.hp.com" },
    eu: { baseUrl: "https://eu.daas.api.hp.com" },
  },
  defaultRegion: "us",
  fields: [
    { name: "region", required: false, description: "us (default) or eu" },
    { name: "clientId", required: true, description: "API Key (Client ID) of the approved app" },
    {
      name: "clientSecret",
      required: true,
      secret: true,
      description: "API Secret (Client Secret); expires after 365 days",
    },
    {
      name: "redirectUri",
      required: false,
      description: "redirect URI registered for the app (e.g. http://localhost:8765/callback)",
    },
    { name: "scope", required: false, description: 'scope (default "Read")' },
    {
      name: "clientSecretCreatedAt",
      required: false,
      description: "date the client secret was created (YYYY-MM-DD), for expiry warnings",
    },
    { name: "callbackPort", required: false, description: "fixed loopback port for the browser login" },
  ],
  maxLifetimeSeconds: 1800,
  defaultLifetimeSeconds: 1800,
  // Public scripts (not the seed): refresh tokens live 365 days; each refresh rotates it, so a refresh renews it.
  refreshTokenIdleSeconds: 365 * 86_400,
  supportsRefresh: () => true,
  interactive: () => true,
  resolve(_input, p) {
    p.tokenUrl = `${p.baseUrl}/oauth/v1/token`;
    p.authorizationUrl = `${p.baseUrl}/oauth/v1/authorize`;
    p.scope ??= "Read";
    p.apiBaseUrl ??= p.baseUrl;
  },
  async login(ctx) {
    const p = ctx.profile;
    if (!ctx.authorizer) {
      throw new HpauthError("LOGIN_REQUIRED", `Profile "${p.name}" needs a browser login (TechPulse)`, {
        provider: p.provider,
        profile: p.name,
        hint: `Run \`hpauth login --profile ${p.name}\` in a browser-capable terminal.`,
      });
    }
    const result = await ctx.authorizer({
      provider: p.provider,
      profile: p.name,
      authorizationUrl: ({ redirectUri, state }) => {
        // All five parameters are required by the seed; PKCE is not supported by TechPulse.
        const u = new URL(p.authorizationUrl ?? "");
        u.searchParams.set("client_id", p.clientId ?? "");
        u.searchParams.set("redirect_uri", redirectUri);
        u.searchParams.set("response_type", "code");
        u.searchParams.set("scope", p.scope ?? "Read");
        u.searchParams.set("state", state);
        return u;
      },
      ...(p.redirectUri ? { redirectUri: p.redirectUri } : {}),
      ...(p.callbackPort ? { callbackPort: p.callbackPort } : {}),
      pkce: false,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const secret = await ctx.clientSecret();
    // A server echoing the request into its error body must not put the code into our message.
    const http = knowing(ctx.http, result.code);
    const res = await formPost(
      http,
      p.tokenUrl ?? "",
      {
        grant_type: "authorization_code",
        code: result.code,
        redirect_uri: result.redirectUri,
        client_id: p.clientId,
        client_secret: secret,
      },
      {},
      "TechPulse code exchange",
      { once: "code" },
    );
    return processTokenResponse(http, res, "code", "TechPulse code exchange");
  },
  async refresh(ctx, refreshToken) {
    const p = ctx.profile;
    const secret = await ctx.clientSecret();
    const res = await formPost(
      ctx.http,
      p.tokenUrl ?? "",
      { grant_type: "refresh_token", refresh_token: refreshToken },
      { authorization: basicAuth(p.clientId ?? "", secret), accept: "application/json" },
      "TechPulse token refresh",
      { once: "refresh" },
    );
    return processTokenResponse(ctx.http, res, "refresh", "TechPulse token refresh");
  },
  warnings(p, _record, now) {
    if (!p.clientSecretCreatedAt) return [];
    const expires = p.clientSecretCreatedAt.getTime() + SECRET_LIFETIME_DAYS * DAY;
    const day = expires - now;
    const date = new Date(expires).toISOString().slice(0, 10);
    if (day <= 0) {
      return [
        `the TechPulse client secret expired on ${date} (365 days after creation): reset it in the HP Developers portal`,
      ];
    }
    if (day <= SECRET_WARN_DAYS * DAY) {
      return [
        `the TechPulse client secret expires on ${date} (in ${Math.ceil(day / DAY)} days): reset it in the HP Developers portal and update the profile`,
      ];
    }
    return [];
  },
};
