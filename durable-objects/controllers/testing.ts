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

/**
 * One wake, as the alarm runs it, that sees everything written so far: the test's writes are in
 * the store, but the pokes saying so may still be on their way, and a wake that trusted older news
 * could skip a resource that changed, so this one catches every informer up.
 */
export function wakeControllerManagerOnce(options: { dropAlarm?: boolean } = {}): Promise<number | null> {
  return runInDurableObject(controllerManager(), async (object: KubeControllerManager, state) => {
    object["wakes"].changes.forget();
    object["runtime"]?.forgetCatchUps();
    await object.alarm();
    const alarm = await state.storage.getAlarm();
    // With dropAlarm, no wake of the object's own runs between the test's: it counts what each did.
    if (options.dropAlarm) await state.storage.deleteAlarm();
    return alarm;
  });
}

/** Wakes the controller manager until nothing is due within a poke's batching delay. */
export async function wakeControllerManager(): Promise<void> {
  for (let i = 0; i < MAX_WAKES; i++) {
    const alarm = await wakeControllerManagerOnce();
    if (alarm === null || alarm > Date.now() + POKE_BATCH_MS) return;
  }
  throw new Error(`the controller manager still had work due after ${MAX_WAKES} wakes`);
}
