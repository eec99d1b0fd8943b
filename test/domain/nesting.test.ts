import { describe, expect, it } from "vitest";
import {
  describeCycle,
  findUpwardPath,
  longestChain,
  MAX_NESTING_DEPTH,
  nestingRefusal,
  nestingViolation,
  type GroupEdges,
  type NewEdge,
} from "../../src/domain/nesting.ts";

/** "<kind>: <message>" of the refusal of `edge` (every group visible unless said otherwise), or "allowed". */
function verdict(edge: NewEdge, isVisible: (groupId: string) => boolean = () => true): string {
  const violation = nestingViolation(edge);
  if (violation === undefined) return "allowed";
  const error = nestingRefusal(edge, violation, isVisible);
  return `${error.kind}: ${error.message}`;
}

/** Upward edges from "child parent" pairs: each child is a direct member of its parent. */
function upward(...pairs: string[]): GroupEdges {
  const edges = new Map<string, string[]>();
  for (const pair of pairs) {
    const [child, parent] = pair.split(" ");
    if (child === undefined || parent === undefined) throw new Error(`bad pair ${pair}`);
    edges.set(child, [...(edges.get(child) ?? []), parent]);
  }
  return edges;
}

/** A chain g0 ∈ g1 ∈ … ∈ g<n> as upward edges (n edges). */
function chain(n: number): GroupEdges {
  return upward(...Array.from({ length: n }, (_, i) => `g${i} g${i + 1}`));
}

describe("nesting rules: cycles", () => {
  it("refuses a group as its own member", () => {
    expect(verdict({ parentId: "A", childId: "A", upward: new Map(), depthBelowChild: 0 })).toBe(
      "failed_precondition: adding group:A to A would close the cycle A → A",
    );
  });

  it("refuses a two-group cycle", () => {
    // A is already a member of B; adding B to A closes A → B → A.
    expect(verdict({ parentId: "A", childId: "B", upward: upward("A B"), depthBelowChild: 1 })).toBe(
      "failed_precondition: adding group:B to A would close the cycle A → B → A",
    );
  });

  it("names the cycle in containment order", () => {
    // A ∈ C, C ∈ B (B contains C contains A); adding B to A closes A → B → C → A.
    expect(verdict({ parentId: "A", childId: "B", upward: upward("A C", "C B"), depthBelowChild: 2 })).toBe(
      "failed_precondition: adding group:B to A would close the cycle A → B → C → A",
    );
  });

  it("finds the cycle through a diamond and reports the shortest one", () => {
    // A ∈ X, A ∈ Y, X ∈ Z, Y ∈ B, Z ∈ W, W ∈ B: paths A→Y→B (short) and A→X→Z→W→B.
    const edges = upward("A X", "A Y", "X Z", "Y B", "Z W", "W B");
    expect(verdict({ parentId: "A", childId: "B", upward: edges, depthBelowChild: 4 })).toBe(
      "failed_precondition: adding group:B to A would close the cycle A → B → Y → A",
    );
  });

  it("allows diamonds that do not close a cycle", () => {
    // D ∈ B, D ∈ C, B ∈ A, C ∈ A already; adding E to D is fine.
    const edges = upward("D B", "D C", "B A", "C A");
    expect(verdict({ parentId: "D", childId: "E", upward: edges, depthBelowChild: 0 })).toBe("allowed");
    // Adding B (already above D through one path) to C creates another diamond edge, not a cycle.
    expect(verdict({ parentId: "C", childId: "B", upward: edges, depthBelowChild: 1 })).toBe("allowed");
  });
  it("names only the groups on the cycle the caller can see; each run of the others is one …", () => {
    const edge = { parentId: "A", childId: "B", upward: upward("A C", "C D", "D E", "E B"), depthBelowChild: 4 };
    expect(verdict(edge, (id) => id === "A" || id === "B" || id === "D")).toBe(
      "failed_precondition: adding group:B to A would close the cycle A → B → … → D → … → A (… stands for groups you cannot see)",
    );
    expect(verdict(edge, (id) => id === "A" || id === "B")).toBe(
      "failed_precondition: adding group:B to A would close the cycle A → B → … → A (… stands for groups you cannot see)",
    );
    expect(describeCycle(["A", "B", "A"], () => false)).toBe("… (… stands for groups you cannot see)");
  });
});

describe("nesting rules: depth", () => {
  it(`allows a chain of exactly ${MAX_NESTING_DEPTH} edges`, () => {
    // g0 … g30 is 30 edges above g0; the new edge and one more below make 32.
    expect(verdict({ parentId: "g0", childId: "c", upward: chain(30), depthBelowChild: 1 })).toBe("allowed");
    expect(verdict({ parentId: "g0", childId: "c", upward: chain(31), depthBelowChild: 0 })).toBe("allowed");
  });

  it("refuses one more, naming the limit but not the depth (levels may run through groups the caller cannot see)", () => {
    expect(verdict({ parentId: "g0", childId: "c", upward: chain(31), depthBelowChild: 1 })).toBe(
      "failed_precondition: adding group:c to g0 would nest groups deeper than the limit of 32 levels",
    );
    expect(verdict({ parentId: "top", childId: "c", upward: new Map(), depthBelowChild: 32 })).toBe(
      "failed_precondition: adding group:c to top would nest groups deeper than the limit of 32 levels",
    );
  });

  it("counts the longest path, not the shortest", () => {
    // p ∈ top directly and p ∈ a1 ∈ … ∈ a31 ∈ top.
    const pairs = ["p top", "p a1", ...Array.from({ length: 30 }, (_, i) => `a${i + 1} a${i + 2}`), "a31 top"];
    expect(longestChain("p", upward(...pairs))).toBe(32);
    expect(verdict({ parentId: "p", childId: "c", upward: upward(...pairs), depthBelowChild: 0 })).toBe(
      "failed_precondition: adding group:c to p would nest groups deeper than the limit of 32 levels",
    );
  });
});

describe("graph helpers", () => {
  it("finds upward paths", () => {
    expect(findUpwardPath("A", "A", new Map())).toEqual(["A"]);
    expect(findUpwardPath("A", "C", upward("A B", "B C"))).toEqual(["A", "B", "C"]);
    expect(findUpwardPath("C", "A", upward("A B", "B C"))).toBeUndefined();
  });

  it("measures chains and caps them on very deep or cyclic data", () => {
    expect(longestChain("x", new Map())).toBe(0);
    expect(longestChain("g0", chain(5))).toBe(5);
    expect(longestChain("g0", chain(100))).toBe(MAX_NESTING_DEPTH + 1);
    expect(longestChain("A", upward("A B", "B A"))).toBe(MAX_NESTING_DEPTH + 1);
  });

  it("stays fast on wide diamonds (memoised)", () => {
    // 30 layers of 10 groups, each member of every group of the next layer: 10^30 paths.
    const pairs: string[] = [];
    for (let layer = 0; layer < 30; layer++) {
      for (let i = 0; i < 10; i++) for (let j = 0; j < 10; j++) pairs.push(`L${layer}_${i} L${layer + 1}_${j}`);
    }
    const edges = upward(...pairs, ...Array.from({ length: 10 }, (_, i) => `start L0_${i}`));
    expect(longestChain("start", edges)).toBe(31);
    expect(findUpwardPath("start", "L30_9", edges)).toHaveLength(32);
  });
});
