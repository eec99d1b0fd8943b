/** Naming the caller from a verified client certificate's subject CN (service-cn). */
import { describe, expect, it } from "vitest";
import { createCertificateCaller } from "../../src/auth/certificate-caller.ts";
import { RosterError } from "../../src/domain/errors.ts";

describe("certificate caller", () => {
  const callerOf = createCertificateCaller(["service:ops"]);

  it("names service:<CN>, an administrator only when listed in ROSTER_ADMINS", () => {
    expect(callerOf("deployer")).toEqual({ principal: "service:deployer", isSystemAdmin: false });
    expect(callerOf("ops")).toEqual({ principal: "service:ops", isSystemAdmin: true });
  });

  it.each([["has space"], [""], ["x".repeat(257)], ["tab\there"]])("refuses CN %j as unauthenticated, saying why", (cn) => {
    let thrown: unknown;
    try {
      callerOf(cn);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RosterError);
    expect(thrown).toMatchObject({
      kind: "unauthenticated",
      message: "client certificate subject CN is not a valid service id (1-256 characters, no whitespace)",
    });
  });
});
