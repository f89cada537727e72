/**
 * Messages name profile fields as users write them (`client_secret_env`, which `--client-secret-env` and
 * `HPAUTH_CLIENT_SECRET_ENV` also spell), whatever TypeScript name the engine built them with.
 */
import { describe, expect, it } from "vitest";
import { configKey, withConfigKeys } from "../../src/engine/field-names.js";

describe("field names in messages", () => {
  it("configKey: camelCase to the config-file key", () => {
    expect(configKey("clientSecretEnv")).toBe("client_secret_env");
    expect(configKey("clientId")).toBe("client_id");
    expect(configKey("caFile")).toBe("ca_file");
    expect(configKey("provider")).toBe("provider");
  });

  it("withConfigKeys rewrites every field named, the longest name first, whole words only", () => {
    expect(withConfigKeys("clientSecret: give only one of clientSecret, clientSecretEnv or clientSecretCommand")).toBe(
      "client_secret: give only one of client_secret, client_secret_env or client_secret_command",
    );
    expect(withConfigKeys("tokenParams.grant_type: may not override a protocol parameter")).toBe(
      "token_params.grant_type: may not override a protocol parameter",
    );
    expect(withConfigKeys("tenantWorkspaceId: needs workspaceId")).toBe("tenant_workspace_id: needs workspace_id");
    expect(withConfigKeys("clientSecretCreatedAt and callbackPort")).toBe("client_secret_created_at and callback_port");
  });

  it("leaves everything else alone: other words, names the profile does not have, parts of longer words", () => {
    for (const text of [
      "provider: unknown",
      "region and scope and username",
      "clientSecrets are not a field",
      "myClientId",
      "Set baseUrlX",
      "",
    ]) {
      expect(withConfigKeys(text)).toBe(text);
    }
  });
});
