// The custom resources the cluster serves, read from the CRDs in a controller's cache: what kube's
// controllers find through discovery (the garbage collector watches each of them).
import type { KubeObject } from "../../lib/client/index.ts";
import { builtin, splitApiVersion, type ResourceNames } from "../../lib/k8s/resources.ts";

export const CUSTOM_RESOURCE_DEFINITIONS = builtin("apiextensions.k8s.io/v1", "customresourcedefinitions");

interface CustomResourceDefinitionLike extends KubeObject {
  spec?: { group: string; scope: string; names: { plural: string; kind: string }; versions: { name: string; served: boolean; storage: boolean }[] };
  status?: { conditions?: { type: string; status: string }[]; acceptedNames?: { plural?: string; kind?: string } };
}

/** The established CRDs' resources, each at its storage version (or its first served one). */
export function servedCustomResources(crds: readonly KubeObject[]): ResourceNames[] {
  return (crds as CustomResourceDefinitionLike[]).flatMap((crd) => {
    const spec = crd.spec;
    const established = crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
    const version = spec?.versions.find((v) => v.storage && v.served) ?? spec?.versions.find((v) => v.served);
    if (!spec || !established || !version) return [];
    const plural = crd.status?.acceptedNames?.plural || spec.names.plural;
    const kind = crd.status?.acceptedNames?.kind || spec.names.kind;
    return [{ group: spec.group, version: version.name, kind, resource: plural, singular: kind.toLowerCase(), namespaced: spec.scope === "Namespaced" }];
  });
}

/** The served custom resource of an owner reference's group and kind, whichever of its versions the reference names. */
export function customResourceForKind(served: readonly ResourceNames[], apiVersion: string, kind: string): ResourceNames | undefined {
  const [group] = splitApiVersion(apiVersion);
  return served.find((r) => r.group === group && r.kind === kind);
}
