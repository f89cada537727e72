/**
 * Issue 7 item 18: WXP's login endpoint is Keycloak, whose ClientIdAndSecretAuthenticator takes the public client's
 * id from `client_id` in the form or from HTTP Basic (`client_id:` and any secret), the form winning when both are
 * sent. The emulator answers as Keycloak does (src/emulator/providers/wxp.ts, keycloakBasic).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator, ProviderInfo } from "../../src/emulator/index.js";
import { basic, json, postForm, start } from "./helpers.js";

let emu: Emulator;
let wxp: Required<ProviderInfo>;
beforeAll(async () => {
  emu = await start();
  wxp = emu.providers.wxp as Required<ProviderInfo>;
});
afterAll(() => emu.close());

const login = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  postForm(
    `${wxp.baseUrl}/auth/login`,
    { grant_type: "password", username: wxp.username, password: wxp.password, ...params },
    headers,
  );
const raw = (s: string) => `Basic ${Buffer.from(s, "utf8").toString("base64")}`;

describe("wxp (Keycloak) public client authentication", () => {
  it("client_id in the form, no header: a token (as before)", async () => {
    const r = await login({ client_id: wxp.clientId });
    expect(r.status).toBe(200);
    expect(await json(r)).toHaveProperty("access_token");
  });

  it.each([
    ["`client_id:` with an empty secret", basic("WXP Collaboration", "")],
    ["any secret (a public client's secret is not checked)", basic("WXP Collaboration", "whatever")],
    ["the id percent-encoded as RFC 6749 §2.3.1 says", raw("WXP%20Collaboration:")],
    ["a lower-case scheme", raw("WXP Collaboration:").replace("Basic", "basic")],
  ])("HTTP Basic only, %s: a token", async (_what, header) => {
    const r = await login({}, { authorization: header });
    expect(r.status, await r.clone().text()).toBe(200);
    expect(await json(r)).toHaveProperty("access_token");
  });

  it("Basic with `+` for the space: not decoded by Keycloak (no %-escape), so an unknown client", async () => {
    const r = await login({}, { authorization: raw("WXP+Collaboration:") });
    expect(r.status).toBe(401);
    expect(await json(r)).toMatchObject({ error: "invalid_client" });
  });

  it("both sent and disagreeing: the form's client_id wins", async () => {
    const good = await login({ client_id: wxp.clientId }, { authorization: basic("someone-else", "") });
    expect(good.status).toBe(200);
    const bad = await login({ client_id: "someone-else" }, { authorization: basic(wxp.clientId, "") });
    expect(bad.status).toBe(401);
    expect(await json(bad)).toMatchObject({ error: "invalid_client" });
  });

  it("an unusable Authorization header and no client_id: a bare Basic challenge", async () => {
    for (const header of ["Bearer abc", "Basic !!!", raw("no-colon-here"), "Negotiate YIIB"]) {
      const r = await login({}, { authorization: header });
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toBe('Basic realm="wxp"');
      expect(await r.text()).toBe("");
    }
  });

  it("an unusable Authorization header is ignored when the form names the client (IE's Negotiate)", async () => {
    const r = await login({ client_id: wxp.clientId }, { authorization: "Negotiate YIIB" });
    expect(r.status).toBe(200);
  });

  it("no client at all: 400 Missing client_id parameter", async () => {
    const r = await login({});
    expect(r.status).toBe(400);
    expect(await json(r)).toEqual({ error: "invalid_client", error_description: "Missing client_id parameter" });
  });

  it("the user's credentials are still checked with Basic client auth", async () => {
    const r = await login({ password: "wrong-password-x" }, { authorization: basic(wxp.clientId, "") });
    expect(r.status).toBe(401);
    expect(await json(r)).toMatchObject({ error: "invalid_grant" });
  });
});
