/**
 * The request examples printed in the seed documents (/work/shared/seeds), replayed with only the host changed and
 * the demo credentials substituted, get the documented answers. Sent with node:http so headers and bodies are the
 * samples' own (fetch would add or refuse some).
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator, ProviderInfo } from "../../src/emulator/index.js";
import { hidden, start } from "./helpers.js";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () =>
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) }),
      );
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const b64 = (s: string) => Buffer.from(s).toString("base64");
let emu: Emulator;
beforeAll(async () => {
  emu = await start();
});
afterAll(() => emu.close());

describe("seed 000: HP TechPulse", () => {
  it("sample authorize call, token exchange, refresh and report call", async () => {
    const tp = emu.providers.techpulse as Required<ProviderInfo>;
    // "https://daas.api.hp.com/oauth/v1/authorize?client_id=VkGp…&redirect_uri=http://localhost&response_type=code&scope=Read&state=DCEeFWf45A53sdfKef424"
    const page = await send(
      tp.baseUrl,
      "GET",
      `/oauth/v1/authorize?client_id=${tp.clientId}&redirect_uri=http://localhost&response_type=code&scope=Read&state=DCEeFWf45A53sdfKef424`,
      {},
    );
    expect(page.status).toBe(200);
    const login = await send(
      tp.baseUrl,
      "POST",
      "/oauth/v1/authorize/login",
      { "Content-Type": "application/x-www-form-urlencoded" },
      new URLSearchParams({
        interaction: hidden(page.text, "interaction"),
        username: tp.username,
        password: tp.password,
      }).toString(),
    );
    const cookie = `daas_session=${(login.headers["set-cookie"] as string[])[0]!.split(";")[0]!.split("=")[1]}`;
    const consent = await send(
      tp.baseUrl,
      "POST",
      "/oauth/v1/authorize/consent",
      { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
      new URLSearchParams({ interaction: hidden(login.text, "interaction"), decision: "allow" }).toString(),
    );
    expect(consent.status).toBe(302);
    const location = new URL(String(consent.headers.location));
    expect(location.origin).toBe("http://localhost");
    expect(location.searchParams.get("state")).toBe("DCEeFWf45A53sdfKef424");
    const code = location.searchParams.get("code")!;

    // POST /oauth/v1/token … grant_type=authorization_code&code=cF5faYzL&redirect_uri=http://localhost&client_id=123456789&client_secret=shhdonottell
    const token = await send(
      tp.baseUrl,
      "POST",
      "/oauth/v1/token",
      { "Content-Type": "application/x-www-form-urlencoded" },
      `grant_type=authorization_code&code=${code}&redirect_uri=http://localhost&client_id=${tp.clientId}&client_secret=${encodeURIComponent(tp.clientSecret)}`,
    );
    expect(token.status).toBe(200);
    const t = token.json();
    for (const k of ["access_token", "expires_in", "refresh_token"]) expect(t).toHaveProperty(k);
    expect(t.expires_in).toBe(1800);

    // Refresh sample: Accept, Basic, form body grant_type=refresh_token&refresh_token=…
    const refreshed = await send(
      tp.baseUrl,
      "POST",
      "/oauth/v1/token",
      {
        Accept: "application/json",
        Authorization: `Basic ${b64(`${tp.clientId}:${tp.clientSecret}`)}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      `grant_type=refresh_token&refresh_token=${t.refresh_token}`,
    );
    expect(refreshed.status).toBe(200);
    const r = refreshed.json();
    expect(Object.keys(r).sort()).toEqual(["access_token", "expires_in", "refresh_token", "scope", "token_type"]);
    expect(r).toMatchObject({ scope: "Read", token_type: "Bearer" });

    // POST /analytics/v1/reports/hwinv/deviceType/type/graph, Connection: Keep-Alive, Authorization: Bearer …
    const call = await send(tp.baseUrl, "POST", "/analytics/v1/reports/hwinv/deviceType/type/graph", {
      Connection: "Keep-Alive",
      Authorization: `Bearer ${r.access_token}`,
    });
    expect(call.status).toBe(200);
    // "If you make an API call using an invalid token, you will receive a 401 Unauthorized"
    const invalid = await send(tp.baseUrl, "POST", "/analytics/v1/reports/hwinv/deviceType/type/graph", {
      Authorization: "Bearer 9vVLTv496kRmIAkfRwDvAUAr271T",
    });
    expect(invalid.status).toBe(401);
  });
});

describe("seed 001: HP WXP", () => {
  it("form POST to /auth/login with the documented Host header", async () => {
    const wxp = emu.providers.wxp as Required<ProviderInfo>;
    const res = await send(
      wxp.baseUrl,
      "POST",
      "/auth/login",
      {
        "Content-Type": "application/x-www-form-urlencoded",
        Host: "login.wxpcollaboration.hp.com",
      },
      new URLSearchParams({
        grant_type: "password",
        client_id: "WXP Collaboration",
        username: wxp.username,
        password: wxp.password,
      }).toString(),
    );
    expect(res.status).toBe(200);
    const t = res.json();
    for (const k of [
      "access_token",
      "expires_in",
      "refresh_expires_in",
      "refresh_token",
      "token_type",
      "not-before-policy",
      "session_state",
      "scope",
    ]) {
      expect(t).toHaveProperty(k);
    }
    expect(String(t.access_token).startsWith("eyJh")).toBe(true);
    expect(t).toMatchObject({ expires_in: 300, token_type: "bearer", scope: "email profile" });
    const api = await send(wxp.baseUrl, "GET", "/api/v1/collaboration/rooms", {
      Authorization: `Bearer ${t.access_token}`,
    });
    expect(api.status).toBe(200);
  });
});

describe("seed 002: HPE GreenLake", () => {
  it("the curl sample, the python sample (Basic) and the PowerShell sample", async () => {
    const gl = emu.providers.greenlake as Required<ProviderInfo>;
    const curl = await send(
      gl.baseUrl,
      "POST",
      "/as/token.oauth2",
      { "Content-Type": "application/x-www-form-urlencoded" },
      `grant_type=client_credentials&client_id=${gl.clientId}&client_secret=${gl.clientSecret}`,
    );
    expect(curl.status).toBe(200);
    const claims = JSON.parse(Buffer.from(String(curl.json().access_token).split(".")[1]!, "base64url").toString());
    expect(Object.keys(claims)).toEqual([
      "client_id",
      "iss",
      "aud",
      "sub",
      "user_ctx",
      "auth_source",
      "platform_customer_id",
      "iat",
      "application_instance_id",
      "exp",
    ]);
    expect(String(curl.json().access_token)).toMatch(/^eyJhbGciOiJSUzI1NiIsImtpZCI6/);
    // requests_oauthlib + HTTPBasicAuth: Basic header, body grant_type only.
    const python = await send(
      gl.baseUrl,
      "POST",
      "/as/token.oauth2",
      {
        Accept: "application/json",
        "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
        Authorization: `Basic ${b64(`${gl.clientId}:${gl.clientSecret}`)}`,
      },
      "grant_type=client_credentials",
    );
    expect(python.status).toBe(200);
    // Invoke-RestMethod with an ordered hashtable body.
    const ps = await send(
      gl.baseUrl,
      "POST",
      "/as/token.oauth2",
      { "Content-Type": "application/x-www-form-urlencoded" },
      new URLSearchParams({
        grant_type: "client_credentials",
        client_id: gl.clientId,
        client_secret: gl.clientSecret,
      }).toString(),
    );
    expect(ps.status).toBe(200);
    expect(ps.json()).toMatchObject({ token_type: "Bearer", expires_in: 7200 });
  });
});

describe("seed 003: HPE Aruba Networking Central", () => {
  it("the four curl requests", async () => {
    const ar = emu.providers["aruba-central"] as Required<ProviderInfo>;
    const step1 = await send(
      ar.baseUrl,
      "POST",
      `/oauth2/authorize/central/api/login?client_id=${ar.clientId}`,
      { "Content-Type": "application/json" },
      `{\n"username": ${JSON.stringify(ar.username)},\n"password": ${JSON.stringify(ar.password)}\n}`,
    );
    expect(step1.status).toBe(200);
    const cookies = new Map(
      (step1.headers["set-cookie"] as string[]).map((c) => c.split(";")[0]!.split("=") as [string, string]),
    );
    expect([...cookies.keys()].sort()).toEqual(["csrftoken", "session"]);
    const step2 = await send(
      ar.baseUrl,
      "POST",
      `/oauth2/authorize/central/api?client_id=${ar.clientId}&response_type=code&scope=all`,
      {
        "Content-Type": "application/json",
        Cookie: `session=${cookies.get("session")}`,
        "X-CSRF-Token": cookies.get("csrftoken")!,
      },
      `{\n"customer_id": "${ar.customerId}"\n}`,
    );
    expect(step2.status).toBe(200);
    expect(Object.keys(step2.json())).toEqual(["auth_code"]);
    const step3 = await send(
      ar.baseUrl,
      "POST",
      "/oauth2/token",
      { "Content-Type": "application/json" },
      `{\n"client_id": "${ar.clientId}",\n"client_secret": "${ar.clientSecret}",\n"grant_type": "authorization_code",\n"code": "${step2.json().auth_code}"\n}`,
    );
    expect(step3.status).toBe(200);
    expect(Object.keys(step3.json())).toEqual(["refresh_token", "token_type", "access_token", "expires_in"]);
    expect(step3.json()).toMatchObject({ token_type: "bearer", expires_in: 7200 });
    const refresh = await send(
      ar.baseUrl,
      "POST",
      `/oauth2/token?client_id=${ar.clientId}&client_secret=${ar.clientSecret}&grant_type=refresh_token&refresh_token=${step3.json().refresh_token}`,
      {},
    );
    expect(refresh.status).toBe(200);
    expect(Object.keys(refresh.json())).toEqual(["refresh_token", "token_type", "access_token", "expires_in"]);
    expect(refresh.json().refresh_token).not.toBe(step3.json().refresh_token);
  });
});

describe("seed 004: HPE Identity Service", () => {
  it("the HTTP example, the curl example, a call with the token, and the expired-token answer", async () => {
    const id = emu.providers["hpe-identity"] as Required<ProviderInfo>;
    const http = await send(
      id.baseUrl,
      "POST",
      "/services/oauth/token",
      {
        "Content-Type": "application/x-www-form-urlencoded",
        Authorization: `Basic ${b64(`${id.clientId}:${id.clientSecret}`)}`,
      },
      `grant_type=client_credentials&client_id=${id.clientId}`,
    );
    expect(http.status).toBe(200);
    expect(Object.keys(http.json())).toEqual([
      "access_token",
      "token_type",
      "expires_in",
      "scope",
      "cc_id",
      "ga_id",
      "sc_id",
      "eu_id",
      "domain",
      "zip_authorities",
      "jti",
    ]);
    expect(http.json()).toMatchObject({
      token_type: "bearer",
      expires_in: 3599,
      scope: "read write",
      cc_id: id.clientId,
      domain: "SA",
    });
    expect(String(http.json().access_token)).toMatch(/^eyJhbGciOiJSUzI1NiIsI/);
    expect(String(http.json().zip_authorities)).toMatch(/^H4sI/);
    // curl -X POST -s -u ID:SECRET URL -d grant_type=client_credentials -d client_id=ID
    const curl = await send(
      id.baseUrl,
      "POST",
      "/services/oauth/token",
      {
        Authorization: `Basic ${b64(`${id.clientId}:${id.clientSecret}`)}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      `grant_type=client_credentials&client_id=${id.clientId}`,
    );
    expect(curl.status).toBe(200);
    const token = String(curl.json().access_token);
    const call = await send(
      id.baseUrl,
      "GET",
      "/support/entitlement/v1/warrantyCheck/CZ12345678/123456-B21?cc=US&hsl=true",
      {
        "Content-Type": "application/json",
        Authorization: `Bearer ${token}`,
      },
    );
    expect(call.status).toBe(200);
    await emu.admin.advanceClock(3600);
    const expired = await send(id.baseUrl, "GET", "/support/entitlement/v1/warrantyCheck/CZ12345678/123456-B21?cc=US", {
      Authorization: `Bearer ${token}`,
    });
    expect(expired.status).toBe(401);
    expect(expired.json()).toEqual({ error: "invalid_token", error_description: `Access token expired: ${token}` });
  });
});
