// ImageLocality: nodes holding the pod's images score higher, scaled by size and spread.
import { describe, expect, it } from "vitest";
import { makeNode, makePod, plugin, scores, TestCluster } from "../testing.ts";
import { calculatePriority, imageLocality } from "./image-locality.ts";

const MB = 1024 * 1024;

describe("ImageLocality", () => {
  const p = plugin(imageLocality);
  const cases: [string, { names: string[]; sizeBytes: number }[][], string, number[]][] = [
    ["no node has the image", [[], []], "registry.test/big:1", [0, 0]],
    ["a 500 MB image on one of two nodes counts half", [[{ names: ["registry.test/big:1"], sizeBytes: 500 * MB }], []], "registry.test/big:1", [Math.trunc((100 * (250 * MB - 23 * MB)) / (977 * MB)), 0]],
    ["on both nodes it counts fully", [[{ names: ["registry.test/big:1"], sizeBytes: 500 * MB }], [{ names: ["registry.test/big:1"], sizeBytes: 500 * MB }]], "registry.test/big:1", [48, 48]], // 100 × 477 / 977
    ["an untagged image name means :latest", [[{ names: ["registry.test/app:latest"], sizeBytes: 1000 * MB }], [{ names: ["registry.test/app:latest"], sizeBytes: 1000 * MB }]], "registry.test/app", [100, 100]],
    ["small images score 0", [[{ names: ["registry.test/tiny:1"], sizeBytes: 10 * MB }], []], "registry.test/tiny:1", [0, 0]],
  ];
  for (const [name, images, image, want] of cases) {
    it(name, () => {
      const cluster = new TestCluster(images.map((imgs, i) => makeNode(`n${i}`, { images: imgs })));
      const infos = images.map((_, i) => cluster.node(`n${i}`));
      const got = scores(p, cluster.state(), cluster.pod(makePod("p", { image })), infos);
      expect(infos.map((n) => got[n.name])).toEqual(want);
    });
  }

  it("clamps between 23 MB and 1000 MB per container", () => {
    expect(calculatePriority(0, 1)).toBe(0);
    expect(calculatePriority(23 * MB, 1)).toBe(0);
    expect(calculatePriority(5000 * MB, 1)).toBe(100);
    expect(calculatePriority(1000 * MB, 2)).toBe(Math.trunc((100 * 977 * MB) / (1977 * MB)));
  });
});
