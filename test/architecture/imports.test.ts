// The import graph of everything that ships: no cycles (any module can be imported first, alone,
// by its own unit test), and imports point downwards only: lib/ imports only lib/, a Durable
// Object never imports the Worker, and the node agent and the etcd bridge import only lib/ of the
// shared code.
import { parseCircular, parseDependencyTree } from "dpdm";
import { describe, expect, it } from "vitest";

const SHIPPED = ["worker/**/*.ts", "durable-objects/**/*.ts", "lib/**/*.ts", "node-agent/**/*.ts", "etcd-bridge/**/*.ts"];

async function importGraph() {
  // Type-only imports count too: a type's home is part of the layering.
  const tree = await parseDependencyTree(SHIPPED, { context: process.cwd(), transform: false, skipDynamicImports: false });
  const edges: [from: string, to: string][] = [];
  for (const [file, dependencies] of Object.entries(tree)) {
    for (const dependency of dependencies ?? []) if (dependency.id && !dependency.id.includes("node_modules")) edges.push([file, dependency.id]);
  }
  return { tree, edges };
}

const graph = importGraph();

describe("import graph", () => {
  it("has no cycles", async () => {
    const { tree } = await graph;
    expect(Object.keys(tree).length).toBeGreaterThan(100);
    expect(parseCircular(tree).map((cycle) => cycle.join(" -> "))).toEqual([]);
  });

  it("points downwards: lib/ imports only lib/, Durable Objects never import worker/, the agent and the etcd bridge only lib/", async () => {
    const { edges } = await graph;
    const wrong = edges.filter(([from, to]) =>
      (from.startsWith("lib/") && !to.startsWith("lib/")) ||
      (from.startsWith("durable-objects/") && to.startsWith("worker/")) ||
      (from.startsWith("node-agent/") && (to.startsWith("worker/") || to.startsWith("durable-objects/"))) ||
      (from.startsWith("etcd-bridge/") && /^(worker|durable-objects|node-agent|scripts)\//.test(to)));
    expect(wrong.map(([from, to]) => `${from} -> ${to}`)).toEqual([]);
  });
});
