// The catalogue of served resources, looked up by group, version and resource.
import { appsResources } from "./apps.ts";
import { coreResources } from "./core.ts";
import type { ResourceDefinition } from "./types.ts";

export const resources: ResourceDefinition[] = [...coreResources, ...appsResources];

const byPath = new Map(resources.map((def) => [`${def.group}/${def.version}/${def.resource}`, def]));

export function findResource(group: string, version: string, resource: string): ResourceDefinition | undefined {
  return byPath.get(`${group}/${version}/${resource}`);
}

/** Group → versions, in the order discovery lists them (core first, then by name). */
export function groupVersions(): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const def of resources) {
    const versions = groups.get(def.group) ?? [];
    if (!versions.includes(def.version)) versions.push(def.version);
    groups.set(def.group, versions);
  }
  // Preferred version first: the newest GA version.
  for (const versions of groups.values()) versions.sort((a, b) => Number(b.slice(1)) - Number(a.slice(1)));
  return groups;
}
