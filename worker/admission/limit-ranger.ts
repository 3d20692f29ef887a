// The LimitRanger admission plugin: a namespace's LimitRanges give containers their default
// requests and limits, and refuse containers outside a range's min and max (and limit/request
// ratio), worded as kube-apiserver words it.
import { formatQuantity, parseQuantity, QuantityError } from "../../lib/k8s/quantity.ts";
import { apiErrors } from "../../lib/k8s/status.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { isPodWrite, readOnce, type AdmissionAttributes, type AdmissionPlugin } from "./plugin.ts";
import { limitRangeLister } from "../registry/listers.ts";

type Resources = Record<string, string | number>;

function quantity(value: string | number | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  try {
    return parseQuantity(value);
  } catch (e) {
    if (e instanceof QuantityError) return undefined;
    throw e;
  }
}

/** The namespace's LimitRange items of type Container, read once for both phases of a request. */
function containerLimits(a: AdmissionAttributes): Promise<Record<string, any>[]> {
  return readOnce(a, "limitranges", async () => {
    const ranges = await limitRangeLister(new ObjectStorage(a.env), a.namespace);
    return ranges.flatMap((range) => (range.spec?.limits ?? []) as Record<string, any>[]).filter((l) => l.type === "Container");
  });
}

const shown = (resource: string, milli: bigint) => formatQuantity(milli, resource === "memory" || resource.endsWith("storage"));

export const limitRanger: AdmissionPlugin = {
  name: "LimitRanger",
  async mutate(a) {
    if (a.operation !== "CREATE" || !isPodWrite(a) || !a.object) return;
    const limits = await containerLimits(a);
    if (!limits.length) return;
    const spec = a.object.spec ?? {};
    const containers: Record<string, any>[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
    const applied: string[] = [];
    for (const container of containers) {
      const resources = (container.resources ??= {});
      for (const limit of limits) {
        for (const [resource, value] of Object.entries((limit.default ?? {}) as Resources)) {
          if (resources.limits?.[resource] === undefined) {
            (resources.limits ??= {})[resource] = value;
            applied.push(`${resource} limit for container ${container.name}`);
          }
        }
        // A request defaults to defaultRequest, else to the container's limit (which default may have set).
        for (const resource of new Set([...Object.keys(limit.defaultRequest ?? {}), ...Object.keys(limit.default ?? {})])) {
          if (resources.requests?.[resource] !== undefined) continue;
          const value = limit.defaultRequest?.[resource] ?? resources.limits?.[resource];
          if (value === undefined) continue;
          (resources.requests ??= {})[resource] = value;
          applied.push(`${resource} request for container ${container.name}`);
        }
      }
    }
    if (applied.length) {
      a.object.metadata ??= {};
      a.object.metadata.annotations = { ...a.object.metadata.annotations, "kubernetes.io/limit-ranger": `LimitRanger plugin set: ${applied.join("; ")}` };
    }
  },
  async validate(a) {
    if (a.operation !== "CREATE" || !isPodWrite(a) || !a.object) return;
    const limits = await containerLimits(a);
    if (!limits.length) return;
    const problems: string[] = [];
    const spec = a.object.spec ?? {};
    for (const container of [...(spec.initContainers ?? []), ...(spec.containers ?? [])] as Record<string, any>[]) {
      const requests: Resources = container.resources?.requests ?? {};
      const limitsOf: Resources = container.resources?.limits ?? {};
      for (const limit of limits) {
        for (const [resource, value] of Object.entries((limit.min ?? {}) as Resources)) {
          const min = quantity(value)!;
          const request = quantity(requests[resource]);
          const lim = quantity(limitsOf[resource]);
          if (request === undefined) problems.push(`minimum ${resource} usage per Container is ${shown(resource, min)}.  No request is specified`);
          else if (request < min) problems.push(`minimum ${resource} usage per Container is ${shown(resource, min)}, but request is ${requests[resource]}`);
          if (lim !== undefined && lim < min) problems.push(`minimum ${resource} usage per Container is ${shown(resource, min)}, but limit is ${limitsOf[resource]}`);
        }
        for (const [resource, value] of Object.entries((limit.max ?? {}) as Resources)) {
          const max = quantity(value)!;
          const lim = quantity(limitsOf[resource]);
          const request = quantity(requests[resource]);
          if (lim === undefined) problems.push(`maximum ${resource} usage per Container is ${shown(resource, max)}.  No limit is specified`);
          else if (lim > max) problems.push(`maximum ${resource} usage per Container is ${shown(resource, max)}, but limit is ${limitsOf[resource]}`);
          if (request !== undefined && request > max) problems.push(`maximum ${resource} usage per Container is ${shown(resource, max)}, but request is ${requests[resource]}`);
        }
        for (const [resource, value] of Object.entries((limit.maxLimitRequestRatio ?? {}) as Resources)) {
          const ratio = quantity(value)!;
          const request = quantity(requests[resource]);
          const lim = quantity(limitsOf[resource]);
          if (request && lim !== undefined && lim * 1000n > ratio * request) {
            problems.push(`${resource} max limit to request ratio per Container is ${formatQuantity(ratio)}, but provided ratio is ${(Number(lim) / Number(request)).toFixed(6)}`);
          }
        }
      }
    }
    if (problems.length) throw apiErrors.forbidden(`pods "${a.object.metadata?.name ?? ""}" is forbidden: [${problems.join(", ")}]`);
  },
};
