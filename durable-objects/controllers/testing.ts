// For the controller manager's workerd tests: wake the object the way its alarm would, again and
// again while the last wake left work due at once (a wake yields after its CPU budget, and on a
// loaded machine that can be before everything written so far is reconciled), so a test's
// expectations do not depend on how fast the machine is.
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { POKE_BATCH_MS } from "../../lib/client/alarm-wakes.ts";
import type { KubeControllerManager } from "./object.ts";

/** Enough for any test's backlog; a manager that never settles fails the test instead of hanging it. */
const MAX_WAKES = 50;

export function controllerManager() {
  return env.CONTROLLERS.get(env.CONTROLLERS.idFromName(env.CLUSTER_NAME));
}

/** Wakes the controller manager until nothing is due within a poke's batching delay. */
export async function wakeControllerManager(): Promise<void> {
  for (let i = 0; i < MAX_WAKES; i++) {
    const alarm = await runInDurableObject(controllerManager(), async (object: KubeControllerManager, state) => {
      await object.alarm();
      return state.storage.getAlarm();
    });
    if (alarm === null || alarm > Date.now() + POKE_BATCH_MS) return;
  }
  throw new Error(`the controller manager still had work due after ${MAX_WAKES} wakes`);
}
