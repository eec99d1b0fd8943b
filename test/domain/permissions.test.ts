import { describe, expect, it } from "vitest";
import {
  compareRoles,
  includesPermission,
  isPrivilegedRole,
  maxPermission,
  maxPermissionOf,
  maxRole,
  permissions,
  roleToPermission,
} from "../../src/domain/permissions.ts";

describe("permissions", () => {
  it("maps roles to permissions", () => {
    expect([roleToPermission("MEMBER"), roleToPermission("MANAGER"), roleToPermission("ADMIN")]).toEqual(["READ", "WRITE", "MANAGE"]);
  });

  it("orders NONE < READ < WRITE < MANAGE", () => {
    const table = permissions.map((held) => permissions.map((needed) => (includesPermission(held, needed) ? 1 : 0)).join(""));
    expect(table).toEqual(["1000", "1100", "1110", "1111"]);
  });

  it("takes maxima", () => {
    expect(maxPermission("READ", "WRITE")).toBe("WRITE");
    expect(maxPermission("MANAGE", "NONE")).toBe("MANAGE");
    expect(maxPermissionOf([])).toBe("NONE");
    expect(maxPermissionOf(["READ", "MANAGE", "WRITE"])).toBe("MANAGE");
    expect(maxRole(undefined, "MEMBER")).toBe("MEMBER");
    expect(maxRole("ADMIN", "MANAGER")).toBe("ADMIN");
    expect(maxRole("MEMBER", undefined)).toBe("MEMBER");
    expect(maxRole(undefined, undefined)).toBeUndefined();
    expect(compareRoles("MEMBER", "ADMIN")).toBeLessThan(0);
  });

  it("marks MANAGER and ADMIN as privileged", () => {
    expect([isPrivilegedRole("MEMBER"), isPrivilegedRole("MANAGER"), isPrivilegedRole("ADMIN")]).toEqual([false, true, true]);
  });
});
