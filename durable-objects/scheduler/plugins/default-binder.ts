// DefaultBinder (Bind): writes the pod's Binding through the API, with the binder the runtime gives.
import type { PluginFactory } from "../framework/interface.ts";
import { asError, messageOf } from "../framework/status.ts";

const NAME = "DefaultBinder";

export const defaultBinder: PluginFactory = (_args, handle) => ({
  name: NAME,
  async bind(_state, pod, nodeName) {
    if (!handle.binder) return asError("no binder: the scheduler was built without a way to write bindings");
    try {
      await handle.binder(pod, nodeName);
      return undefined;
    } catch (e) {
      return asError(messageOf(e));
    }
  },
});
