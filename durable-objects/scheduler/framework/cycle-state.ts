// The data plugins pass from one extension point to the next for one pod in one scheduling cycle
// (framework.CycleState), over the snapshot the cycle reads. Clones feed preemption's simulations.
import type { Snapshot } from "../snapshot.ts";

/** Plugin state; `clone` must copy whatever AddPod/RemovePod may change. */
export interface StateData {
  clone(): StateData;
}

export class CycleState {
  private readonly data = new Map<string, StateData>();
  /** Plugins whose PreFilter said Skip: their Filter and PreFilterExtensions do not run. */
  skipFilterPlugins = new Set<string>();
  /** Plugins whose PreScore said Skip: their Score does not run. */
  skipScorePlugins = new Set<string>();

  readonly snapshot: Snapshot;

  constructor(snapshot: Snapshot) {
    this.snapshot = snapshot;
  }

  read<T extends StateData>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  write(key: string, value: StateData): void {
    this.data.set(key, value);
  }

  clone(): CycleState {
    const c = new CycleState(this.snapshot);
    for (const [key, value] of this.data) c.data.set(key, value.clone());
    c.skipFilterPlugins = new Set(this.skipFilterPlugins);
    c.skipScorePlugins = new Set(this.skipScorePlugins);
    return c;
  }
}
