// The scale subresource of whatever an ownerReference or a scaleTargetRef names (kube's scale
// client over a REST mapper): built-in kinds are known, others are found through discovery.
import type { Scale } from "kubernetes-types/autoscaling/v1";
import type { ApiClient } from "../../lib/client/index.ts";
import { resourceForKind, splitApiVersion, type ResourceNames } from "../../lib/k8s/resources.ts";

interface DiscoveredResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** The resource serving `kind` in `apiVersion`, built in or served by an aggregated API or a CRD. */
export async function resourceOfKind(client: ApiClient, apiVersion: string, kind: string): Promise<ResourceNames | undefined> {
  const known = resourceForKind(apiVersion, kind);
  if (known) return known;
  const [group, version] = splitApiVersion(apiVersion);
  const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const list = await client.json<{ resources?: DiscoveredResource[] }>({ method: "GET", path });
  const found = list.resources?.find((r) => r.kind === kind && !r.name.includes("/"));
  if (!found) return undefined;
  return { group, version, kind, resource: found.name, singular: kind.toLowerCase(), namespaced: found.namespaced };
}

function scalePath(client: ApiClient, names: ResourceNames, namespace: string, name: string): string {
  return client.resource(names).path(namespace, name, "scale");
}

export function getScale(client: ApiClient, names: ResourceNames, namespace: string, name: string): Promise<Scale> {
  return client.json<Scale>({ method: "GET", path: scalePath(client, names, namespace, name) });
}

/** Writes a Scale back; its resourceVersion makes the write conditional on what was read. */
export function updateScale(client: ApiClient, names: ResourceNames, namespace: string, scale: Scale): Promise<Scale> {
  return client.write<Scale>(names, { method: "PUT", path: scalePath(client, names, namespace, scale.metadata!.name!), body: { apiVersion: "autoscaling/v1", kind: "Scale", ...scale } });
}
