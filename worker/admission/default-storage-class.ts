// DefaultStorageClass: a claim created without spec.storageClassName gets the cluster's default
// class (the one annotated storageclass.kubernetes.io/is-default-class: "true"; of several, the
// newest, as kube 1.30 picks). An empty storageClassName asks for no class and is left alone.
import { builtinStore } from "../registry/builtins.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import type { KubeObject } from "../registry/types.ts";
import type { AdmissionPlugin } from "./plugin.ts";
import { ANN_IS_DEFAULT_CLASS } from "../../lib/k8s/storage.ts";
const BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class";

/** The default class of these: the newest of those annotated default, then the first by name. */
export function defaultClassOf(classes: readonly KubeObject[]): KubeObject | undefined {
  const defaults = classes.filter((c) => c.metadata?.annotations?.[ANN_IS_DEFAULT_CLASS] === "true");
  const created = (c: KubeObject) => Date.parse(c.metadata?.creationTimestamp ?? "") || 0;
  return defaults.sort((a, b) => created(b) - created(a) || String(a.metadata?.name).localeCompare(String(b.metadata?.name)))[0];
}

export const defaultStorageClass: AdmissionPlugin = {
  name: "DefaultStorageClass",
  async mutate(a) {
    if (a.operation !== "CREATE" || a.subresource || a.def.group !== "" || a.def.resource !== "persistentvolumeclaims" || !a.object) return;
    const claim = a.object;
    if (claim.spec?.storageClassName !== undefined && claim.spec.storageClassName !== null) return;
    if (claim.metadata?.annotations?.[BETA_CLASS_ANNOTATION] !== undefined) return;
    const classes = await builtinStore(new ObjectStorage(a.env), "storage.k8s.io/v1", "storageclasses").all(undefined);
    const chosen = defaultClassOf(classes);
    if (chosen) (claim.spec ??= {}).storageClassName = chosen.metadata!.name;
  },
};
