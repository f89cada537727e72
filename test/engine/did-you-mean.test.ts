/**
 * "Did you mean …?" for a word typed where one of a few known words belongs (providers, regions, grant types): the
 * choice meant, or nothing when no choice is close enough to be worth naming.
 */
import { describe, expect, it } from "vitest";
import { didYouMean, suggestion } from "../../src/engine/suggest.js";
import { PROVIDER_IDS } from "../../src/engine/types.js";

const REGIONS = ["US-1", "US-2", "EU-1", "EU-Central2", "APAC-1"];

describe("didYouMean", () => {
  it("a case-insensitive match is that choice, as spelt in the list", () => {
    expect(didYouMean("GREENLAKE", PROVIDER_IDS)).toBe("greenlake");
    expect(didYouMean("  eu-central2 ", REGIONS)).toBe("EU-Central2");
    // Exact beats a choice it is the start of.
    expect(didYouMean("greenlake", PROVIDER_IDS)).toBe("greenlake");
  });

  it("the one choice that starts with the input, or (3 letters or more) contains it", () => {
    expect(didYouMean("aruba", PROVIDER_IDS)).toBe("aruba-central");
    expect(didYouMean("identity", PROVIDER_IDS)).toBe("hpe-identity");
    expect(didYouMean("new", PROVIDER_IDS)).toBe("new-central");
    expect(didYouMean("APAC", REGIONS)).toBe("APAC-1");
    expect(didYouMean("Central2", REGIONS)).toBe("EU-Central2");
    // Two letters are not enough to be found inside a word: "ac" is in "APAC-1" but starts nothing.
    expect(didYouMean("ac", ["APAC-1", "ZZZZZZZZ"])).toBeUndefined();
    expect(didYouMean("ap", ["APAC-1", "ZZZZZZZZ"])).toBe("APAC-1");
    // Three letters are.
    expect(didYouMean("pac", REGIONS)).toBe("APAC-1");
  });

  it("several choices starting with it: the nearest within two edits, else nothing", () => {
    // "us" starts US-1 and US-2, two edits from each: the first nearest.
    expect(didYouMean("us", REGIONS)).toBe("US-1");
    // "green" starts greenlake and greenlake-platform and is four edits from the nearer: nothing.
    expect(didYouMean("green", PROVIDER_IDS)).toBeUndefined();
  });

  it("a typo within two edits is the nearest choice; three edits away is not a suggestion", () => {
    expect(didYouMean("grenlake", PROVIDER_IDS)).toBe("greenlake");
    expect(didYouMean("techplse", PROVIDER_IDS)).toBe("techpulse");
    expect(didYouMean("wpx", PROVIDER_IDS)).toBe("wxp");
    expect(didYouMean("oauth", PROVIDER_IDS)).toBe("oauth2");
    // Exactly two edits away still counts, three do not.
    expect(didYouMean("gxeenlaxe", PROVIDER_IDS)).toBe("greenlake");
    expect(didYouMean("gxxenlaxe", PROVIDER_IDS)).toBeUndefined();
    // The nearer of two candidates, whatever their order.
    expect(didYouMean("abcx", ["abxy", "abcd"])).toBe("abcd");
    expect(didYouMean("abcx", ["abcd", "abxy"])).toBe("abcd");
    expect(didYouMean("zzzzzz", PROVIDER_IDS)).toBeUndefined();
  });

  it("nothing typed, nothing suggested", () => {
    expect(didYouMean("", PROVIDER_IDS)).toBeUndefined();
    expect(didYouMean("   ", PROVIDER_IDS)).toBeUndefined();
    expect(didYouMean("x", [])).toBeUndefined();
    // Even where every choice "starts with" the empty string and one is near it.
    expect(didYouMean("", ["us"])).toBeUndefined();
    expect(didYouMean(" ", ["u"])).toBeUndefined();
  });
});

describe("suggestion", () => {
  it("the clause a message appends", () => {
    expect(suggestion("grenlake", PROVIDER_IDS)).toBe("; did you mean greenlake?");
    expect(suggestion("zzzzzz", PROVIDER_IDS)).toBe("");
    // A word already right (as typed) needs no suggestion; a different case does.
    expect(suggestion("greenlake", PROVIDER_IDS)).toBe("");
    expect(suggestion("GreenLake", PROVIDER_IDS)).toBe("; did you mean greenlake?");
  });
});
