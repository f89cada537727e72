/** GreenLake's `/api/v1/echo` test endpoint: what reached it, credentials never echoed, bodies streamed. */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator, ProviderInfo } from "../../src/emulator/index.js";
import { json, postForm, start } from "./helpers.js";

let emu: Emulator;
let gl: Required<ProviderInfo>;
let token: string;
beforeAll(async () => {
  emu = await start();
  gl = emu.providers.greenlake as Required<ProviderInfo>;
  const res = await postForm(`${gl.baseUrl}/as/token.oauth2`, {
    grant_type: "client_credentials",
    client_id: gl.clientId,
    client_secret: gl.clientSecret,
  });
  token = (await json(res)).access_token as string;
});
afterAll(() => emu.close());

describe("greenlake /api/v1/echo", () => {
  it("needs a valid token", async () => {
    const res = await fetch(`${gl.baseUrl}/api/v1/echo`, { headers: { authorization: "Bearer nope" } });
    expect(res.status).toBe(401);
    expect((await json(res)).errorCode).toBe("HPE_GL_ERROR_UNAUTHORIZED");
  });

  it("echoes method, path, query and headers, with verdicts instead of credential values", async () => {
    const res = await fetch(`${gl.baseUrl}/api/v1/echo?a=1&b=two`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${token}`, cookie: "session=abcdef", "x-custom": "v" },
      body: "hello",
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(token);
    expect(text).not.toContain("abcdef");
    const body = JSON.parse(text);
    expect(body.method).toBe("PATCH");
    expect(body.path).toBe("/api/v1/echo");
    expect(body.query).toBe("?a=1&b=two");
    expect(body.headers.authorization).toEqual(["Bearer (valid)"]);
    expect(body.headers.cookie).toEqual(["(14 characters)"]);
    expect(body.headers["x-custom"]).toEqual(["v"]);
    expect(body.body).toEqual({ bytes: 5, sha256: createHash("sha256").update("hello").digest("hex") });
  });

  it("takes a body far past the emulator's body limit, streamed, and can stream one back", async () => {
    const size = 8 * 1024 * 1024; // 128 × the 64 KiB bodyLimitBytes
    const chunk = Buffer.alloc(64 * 1024, 7);
    const hash = createHash("sha256");
    for (let i = 0; i < size / chunk.length; i++) hash.update(chunk);
    const up = await request(`${gl.baseUrl}/api/v1/echo`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}` },
      body: Readable.from(
        (function* () {
          for (let i = 0; i < size / chunk.length; i++) yield chunk;
        })(),
      ),
    });
    expect(up.statusCode).toBe(200);
    expect(((await up.body.json()) as { body: unknown }).body).toEqual({ bytes: size, sha256: hash.digest("hex") });

    const down = await request(`${gl.baseUrl}/api/v1/echo?respond_bytes=${size + 3}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(down.statusCode).toBe(200);
    let got = 0;
    for await (const c of down.body) got += (c as Buffer).length;
    expect(got).toBe(size + 3);
  });
});
