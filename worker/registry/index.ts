// The catalogue of served resources, one declaration file per API group, looked up by group,
// version and resource.
import { authenticationResources } from "../authn/reviews.ts";
import { authorizationResources } from "../authz/reviews.ts";
import { crdResource } from "../crd/definition.ts";
import { componentStatusResource } from "../health/component-statuses.ts";
import { metricsResources } from "../metrics/resources.ts";
import { builtinDefinitions } from "./builtins.ts";
import type { ResourceDefinition } from "./types.ts";

export const resources: ResourceDefinition[] = [
  ...builtinDefinitions, componentStatusResource, crdResource, ...authenticationResources, ...authorizationResources, ...metricsResources,
];
const byPath = new Map(resources.map((def) => [`${def.group}/${def.version}/${def.resource}`, def]));

export function findResource(group: string, version: string, resource: string): ResourceDefinition | undefined {
  return byPath.get(`${group}/${version}/${resource}`);
}

/** Group → versions, in the order discovery lists them (core first, then by name). */
export function groupVersions(defs: ResourceDefinition[] = resources): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const def of defs) {
    const versions = groups.get(def.group) ?? [];
    if (!versions.includes(def.version)) versions.push(def.version);
    groups.set(def.group, versions);
  }
  for (const versions of groups.values()) versions.sort(compareVersions);
  return groups;
}

/**
 * Kubernetes' version priority, highest first: GA before beta before alpha, higher numbers first
 * within each, then versions that are not Kubernetes-like, by name.
 */
export function compareVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number] | undefined => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return undefined;
    return [m[2] === undefined ? 3 : m[2] === "beta" ? 2 : 1, Number(m[1]), Number(m[3] ?? 0)];
  };
  const ra = rank(a);
  const rb = rank(b);
  if (!ra || !rb) return ra ? -1 : rb ? 1 : a.localeCompare(b);
  return rb[0] - ra[0] || rb[1] - ra[1] || rb[2] - ra[2];
}
