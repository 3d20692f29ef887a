// ImageLocality (Score): prefers nodes that already hold the pod's images, weighing each image's
// size by the share of nodes that have it (so a widely spread image counts less than a rare one).
import type { PluginFactory } from "../framework/interface.ts";
import { MAX_NODE_SCORE } from "../framework/interface.ts";

const NAME = "ImageLocality";
const MB = 1024 * 1024;
const MIN_THRESHOLD = 23 * MB;
const MAX_CONTAINER_THRESHOLD = 1000 * MB;

/** The summed, spread-scaled sizes mapped onto 0..100 between 23 MB and 1000 MB per container. */
export function calculatePriority(sum: number, numContainers: number): number {
  const maxThreshold = MAX_CONTAINER_THRESHOLD * numContainers;
  const clamped = sum < MIN_THRESHOLD ? MIN_THRESHOLD : sum > maxThreshold ? maxThreshold : sum;
  return Math.trunc((MAX_NODE_SCORE * (clamped - MIN_THRESHOLD)) / (maxThreshold - MIN_THRESHOLD));
}

export const imageLocality: PluginFactory = () => ({
  name: NAME,
  score(state, pod, node) {
    const total = state.snapshot.numNodes;
    let sum = 0;
    for (const image of pod.spec.images) {
      const size = node.node!.images.get(image);
      if (size !== undefined) sum += Math.trunc(size * (state.snapshot.imageNumNodes(image) / total));
    }
    return calculatePriority(sum, pod.spec.images.length);
  },
});
