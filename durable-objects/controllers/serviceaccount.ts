// The ServiceAccount controller (kube-controller-manager 1.30's "serviceaccount"): every active
// namespace has a ServiceAccount named "default", made again if it is deleted. Pods that name no
// account run as it (the ServiceAccount admission plugin refuses pods whose account is missing).
import type { Namespace, ServiceAccount } from "kubernetes-types/core/v1";
import { isAlreadyExists } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { splitKey, type Controller } from "./framework.ts";

const NAMESPACES = builtin("v1", "namespaces");
const SERVICE_ACCOUNTS = builtin("v1", "serviceaccounts");
/** kube's --service-account-names default: the accounts every namespace gets. */
export const DEFAULT_SERVICE_ACCOUNTS = ["default"];

/** Whether new content may be made in the namespace (kube skips any namespace not Active). */
export const isActive = (namespace: Namespace | undefined): namespace is Namespace =>
  !!namespace && !namespace.metadata?.deletionTimestamp && (namespace.status?.phase ?? "Active") === "Active";

/** A namespace being terminated refuses new content: nothing to do there. */
const isRefusedForTermination = (e: unknown) => (e as { code?: number; message?: string })?.code === 403 && /being terminated/.test((e as Error).message);

export const serviceAccountController: Controller = {
  name: "serviceaccount-controller",
  watches: [
    { resource: NAMESPACES, keysFor: (ns) => [`/${ns.metadata?.name ?? ""}`] },
    { resource: SERVICE_ACCOUNTS, keysFor: (sa) => (DEFAULT_SERVICE_ACCOUNTS.includes(sa.metadata?.name ?? "") ? [`/${sa.metadata?.namespace ?? ""}`] : []), metadataOnly: true },
  ],
  async reconcile(key, ctx) {
    const [, name] = splitKey(key);
    if (!isActive(ctx.listers.of<Namespace>(NAMESPACES).get(undefined, name))) return;
    const accounts = ctx.listers.of<ServiceAccount>(SERVICE_ACCOUNTS);
    for (const account of DEFAULT_SERVICE_ACCOUNTS) {
      if (accounts.get(name, account)) continue;
      await ctx.client.resource<ServiceAccount>(SERVICE_ACCOUNTS).create(name, { metadata: { name: account } }).catch((e) => {
        if (!isAlreadyExists(e) && !isRefusedForTermination(e)) throw e;
      });
    }
  },
};
