// Discovery documents: /version, /api, /apis and each group-version's resource list.
import { groupVersions } from "../registry/index.ts";
import { STANDARD_VERBS, type ResourceDefinition } from "../registry/types.ts";

/** The Kubernetes release whose API we serve (the type data we build on is 1.30's). */
export const KUBERNETES_VERSION = { major: "1", minor: "30", gitVersion: "v1.30.0" };

export function versionInfo() {
  return {
    ...KUBERNETES_VERSION,
    gitCommit: "edgeplane",
    gitTreeState: "clean",
    buildDate: "2026-11-21T00:00:00Z",
    goVersion: "go1.22.0",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

export function apiVersions(host: string) {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: host }] };
}

function apiGroup(name: string, versions: string[]) {
  const gv = (version: string) => ({ groupVersion: `${name}/${version}`, version });
  return { name, versions: versions.map(gv), preferredVersion: gv(versions[0]!) };
}

export function apiGroupList(defs: ResourceDefinition[]) {
  const groups = [...groupVersions(defs)].filter(([name]) => name !== "").map(([name, versions]) => apiGroup(name, versions));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

export function apiGroupDocument(defs: ResourceDefinition[], group: string) {
  const versions = groupVersions(defs).get(group);
  return versions && group ? { kind: "APIGroup", apiVersion: "v1", ...apiGroup(group, versions) } : undefined;
}

function resourceEntries(def: ResourceDefinition) {
  const main: Record<string, unknown> = {
    name: def.resource, singularName: def.singular, namespaced: def.namespaced, kind: def.kind, verbs: def.verbs ?? STANDARD_VERBS,
  };
  if (def.shortNames) main.shortNames = def.shortNames;
  if (def.categories) main.categories = def.categories;
  const entries = [main];
  const sub = (name: string, kind: string, verbs: string[], gv?: { group: string; version: string }) =>
    entries.push({ name: `${def.resource}/${name}`, singularName: "", namespaced: def.namespaced, ...gv, kind, verbs });
  if (def.hasStatus) sub("status", def.kind, ["get", "patch", "update"]);
  if (def.scalable) sub("scale", "Scale", ["get", "patch", "update"], { group: "autoscaling", version: "v1" });
  if (def.group === "" && def.resource === "pods") {
    sub("binding", "Binding", ["create"]);
    sub("eviction", "Eviction", ["create"], { group: "policy", version: "v1" });
    sub("log", "Pod", ["get"]);
    sub("attach", "PodAttachOptions", ["create", "get"]);
    sub("exec", "PodExecOptions", ["create", "get"]);
    sub("portforward", "PodPortForwardOptions", ["create", "get"]);
  }
  if (def.group === "" && def.resource === "nodes") sub("proxy", "NodeProxyOptions", ["create", "delete", "get", "patch", "update"]);
  if (def.group === "" && def.resource === "namespaces") sub("finalize", "Namespace", ["update"]);
  if (def.group === "" && def.resource === "serviceaccounts") sub("token", "TokenRequest", ["create"], { group: "authentication.k8s.io", version: "v1" });
  return entries;
}

export function apiResourceList(all: ResourceDefinition[], group: string, version: string) {
  const defs = all.filter((def) => def.group === group && def.version === version);
  if (!defs.length) return undefined;
  return {
    kind: "APIResourceList", apiVersion: "v1", groupVersion: group ? `${group}/${version}` : version,
    resources: defs.flatMap(resourceEntries),
  };
}

// ---- aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) ----

/** The aggregated-discovery version the client asks for first, if any. */
export function aggregatedDiscoveryVersion(accept: string | undefined): "v2" | "v2beta1" | undefined {
  for (const part of (accept ?? "").split(",")) {
    if (!part.includes("as=APIGroupDiscoveryList") || !part.includes("g=apidiscovery.k8s.io")) continue;
    if (/;\s*v=v2beta1\b/.test(part)) return "v2beta1";
    if (/;\s*v=v2\b/.test(part)) return "v2";
  }
  return undefined;
}

function discoveryResource(def: ResourceDefinition) {
  const responseKind = (group: string, version: string, kind: string) => ({ group, version, kind });
  const subresources: Record<string, unknown>[] = [];
  const sub = (subresource: string, kind: ReturnType<typeof responseKind>, verbs: string[]) => subresources.push({ subresource, responseKind: kind, verbs });
  if (def.hasStatus) sub("status", responseKind(def.group, def.version, def.kind), ["get", "patch", "update"]);
  if (def.scalable) sub("scale", responseKind("autoscaling", "v1", "Scale"), ["get", "patch", "update"]);
  if (def.group === "" && def.resource === "pods") {
    sub("binding", responseKind("", "v1", "Binding"), ["create"]);
    sub("eviction", responseKind("policy", "v1", "Eviction"), ["create"]);
    sub("log", responseKind("", "v1", "Pod"), ["get"]);
    sub("attach", responseKind("", "v1", "PodAttachOptions"), ["create", "get"]);
    sub("exec", responseKind("", "v1", "PodExecOptions"), ["create", "get"]);
    sub("portforward", responseKind("", "v1", "PodPortForwardOptions"), ["create", "get"]);
  }
  if (def.group === "" && def.resource === "nodes") sub("proxy", responseKind("", "v1", "NodeProxyOptions"), ["create", "delete", "get", "patch", "update"]);
  if (def.group === "" && def.resource === "namespaces") sub("finalize", responseKind("", "v1", "Namespace"), ["update"]);
  if (def.group === "" && def.resource === "serviceaccounts") sub("token", responseKind("authentication.k8s.io", "v1", "TokenRequest"), ["create"]);
  const entry: Record<string, unknown> = {
    resource: def.resource, responseKind: responseKind(def.group, def.version, def.kind), scope: def.namespaced ? "Namespaced" : "Cluster",
    singularResource: def.singular, verbs: def.verbs ?? STANDARD_VERBS,
  };
  if (def.shortNames) entry.shortNames = def.shortNames;
  if (def.categories) entry.categories = def.categories;
  if (subresources.length) entry.subresources = subresources;
  return entry;
}

/** /api (the core group only) or /apis (every other group) as one APIGroupDiscoveryList. */
export function aggregatedDiscovery(defs: ResourceDefinition[], scope: "api" | "apis", version: "v2" | "v2beta1") {
  const groups = [...groupVersions(defs)].filter(([name]) => (scope === "api" ? name === "" : name !== ""));
  return {
    kind: "APIGroupDiscoveryList", apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {},
    items: groups.map(([name, versions]) => ({
      metadata: name ? { name, creationTimestamp: null } : { creationTimestamp: null },
      versions: versions.map((v) => ({
        version: v,
        resources: defs.filter((def) => def.group === name && def.version === v).map(discoveryResource),
        freshness: "Current",
      })),
    })),
  };
}
