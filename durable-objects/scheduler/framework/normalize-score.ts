// helper.DefaultNormalizeScore: scales scores so the highest becomes `max` (or, reversed, the lowest).
import type { NodeScore } from "./interface.ts";

export function defaultNormalizeScore(max: number, reverse: boolean, scores: NodeScore[]): void {
  let highest = 0;
  for (const s of scores) if (s.score > highest) highest = s.score;
  if (highest === 0) {
    if (reverse) for (const s of scores) s.score = max;
    return;
  }
  for (const s of scores) {
    const scaled = Math.trunc((max * s.score) / highest);
    s.score = reverse ? max - scaled : scaled;
  }
}
