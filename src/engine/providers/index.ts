/** The provider registry: one line per provider. */
import type { ProviderId } from "../types.js";
import { arubaCentral } from "./aruba-central.js";
import { greenlake } from "./greenlake.js";
import { greenlakePlatform, newCentral } from "./greenlake-platform.js";
import { hpeIdentity } from "./hpe-identity.js";
import { oauth2 } from "./oauth2.js";
import { techpulse } from "./techpulse.js";
import type { ProviderDefinition } from "./types.js";
import { wxp } from "./wxp.js";

export const PROVIDERS: Readonly<Record<ProviderId, ProviderDefinition>> = {
  techpulse,
  wxp,
  greenlake,
  "aruba-central": arubaCentral,
  "hpe-identity": hpeIdentity,
  "greenlake-platform": greenlakePlatform,
  "new-central": newCentral,
  oauth2,
};

export function getProvider(id: ProviderId): ProviderDefinition {
  return PROVIDERS[id];
}

export type { ProviderDefinition, ProviderField, ResolvedProfile, TokenSet } from "./types.js";
