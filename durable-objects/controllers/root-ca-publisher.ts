// The root CA publisher (kube-controller-manager 1.30's "root-ca-cert-publisher"): every namespace
// has a ConfigMap `kube-root-ca.crt` whose `ca.crt` is the CA that pods should trust for the
// apiserver, which their projected service account volumes mount. The CA is the controller
// manager's CLUSTER_CA_PEM setting; without one, nothing is published (the manager's status says so).
import type { ConfigMap, Namespace } from "kubernetes-types/core/v1";
import { isAlreadyExists, isNotFound } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { splitKey, type Controller } from "./framework.ts";
import { isActive } from "./serviceaccount.ts";

const NAMESPACES = builtin("v1", "namespaces");
const CONFIG_MAPS = builtin("v1", "configmaps");
export const ROOT_CA_CONFIG_MAP = "kube-root-ca.crt";
const DESCRIPTION_ANNOTATION = "kubernetes.io/description";
const DESCRIPTION = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/** The ConfigMap as the publisher keeps it: the CA under `ca.crt` and kube's description. */
export function rootCaConfigMap(caPem: string): ConfigMap {
  return { metadata: { name: ROOT_CA_CONFIG_MAP, annotations: { [DESCRIPTION_ANNOTATION]: DESCRIPTION } }, data: { "ca.crt": caPem } };
}

/** Whether a published ConfigMap holds exactly the CA (other keys are dropped) and carries the description. */
export function isCurrent(published: ConfigMap, caPem: string): boolean {
  const data = published.data ?? {};
  return Object.keys(data).length === 1 && data["ca.crt"] === caPem && !!published.metadata?.annotations?.[DESCRIPTION_ANNOTATION];
}

/** What the manager's status says while no CA is set. */
export const NO_CA_NOTE = "root-ca-cert-publisher: CLUSTER_CA_PEM is not set, so no kube-root-ca.crt ConfigMap is published";

export const rootCaPublisher: Controller = {
  name: "root-ca-cert-publisher",
  watches: [
    { resource: NAMESPACES, keysFor: (ns) => [`/${ns.metadata?.name ?? ""}`] },
    { resource: CONFIG_MAPS, keysFor: (cm) => (cm.metadata?.name === ROOT_CA_CONFIG_MAP ? [`/${cm.metadata.namespace ?? ""}`] : []), metadataOnly: true },
  ],
  async reconcile(key, ctx) {
    const caPem = ctx.settings.clusterCaPem;
    const [, name] = splitKey(key);
    if (!caPem || !isActive(ctx.listers.of<Namespace>(NAMESPACES).get(undefined, name))) return;
    const api = ctx.client.resource<ConfigMap>(CONFIG_MAPS);
    // The cache holds metadata only: the data is read when there is something to compare.
    const published = ctx.listers.of<ConfigMap>(CONFIG_MAPS).get(name, ROOT_CA_CONFIG_MAP) && await api.get(name, ROOT_CA_CONFIG_MAP).catch((e) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    if (!published) {
      await api.create(name, rootCaConfigMap(caPem)).catch((e) => {
        // Made meanwhile (its event brings this key back), or the namespace started terminating.
        if (!isAlreadyExists(e) && (e as { code?: number }).code !== 403) throw e;
      });
      return;
    }
    if (isCurrent(published, caPem)) return;
    const annotations = { ...published.metadata?.annotations, [DESCRIPTION_ANNOTATION]: DESCRIPTION };
    await api.update(name, { ...published, metadata: { ...published.metadata, annotations }, data: { "ca.crt": caPem } });
  },
};
