// Control-plane components that run inside this deployment (the scheduler and the controller
// manager, as Durable Objects) reach the API through service bindings to the Worker's own named
// entrypoints (worker/index.ts); the entrypoint, not a token, says who is asking. The identity rides
// on the env object the entrypoint hands the app, so no request from outside can claim it.
import type { UserInfo } from "../context.ts";

export const KUBE_SCHEDULER: UserInfo = { name: "system:kube-scheduler", uid: "", groups: ["system:authenticated"] };
export const KUBE_CONTROLLER_MANAGER: UserInfo = { name: "system:kube-controller-manager", uid: "", groups: ["system:authenticated"] };

const identities = new WeakMap<object, UserInfo>();

/** The bindings as a component's entrypoint passes them on, marked with who the component is. */
export function envActingAs(env: Env, user: UserInfo): Env {
  const marked = { ...env };
  identities.set(marked, user);
  return marked;
}

/** The component a request came from through its entrypoint, if it did. */
export function systemIdentity(env: Env): UserInfo | undefined {
  return identities.get(env);
}
