// Two small pod admission plugins: DefaultTolerationSeconds (pods tolerate a not-ready or
// unreachable node for 300 s before eviction) and Priority (a PriorityClass name becomes the
// pod's priority; the global default class applies when none is named).
import { apiErrors } from "../../lib/k8s/status.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { isPodWrite, type AdmissionPlugin } from "./plugin.ts";
import { priorityClassLister } from "../registry/listers.ts";

const TAINTS = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

export const defaultTolerationSeconds: AdmissionPlugin = {
  name: "DefaultTolerationSeconds",
  mutate(a) {
    if (a.operation !== "CREATE" || !isPodWrite(a) || !a.object) return;
    const spec = (a.object.spec ??= {});
    const tolerations: Record<string, any>[] = spec.tolerations ?? [];
    for (const key of TAINTS) {
      const covered = tolerations.some((t) => (t.key === key || (!t.key && t.operator === "Exists")) && (!t.effect || t.effect === "NoExecute"));
      if (!covered) tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
    }
    spec.tolerations = tolerations;
  },
};

/** The two classes kube-apiserver creates: for what the cluster and its nodes cannot run without. */
export const SYSTEM_PRIORITY_CLASSES = [
  { name: "system-node-critical", value: 2000001000, description: "Used for system critical pods that must not be moved from their current node." },
  { name: "system-cluster-critical", value: 2000000000, description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary." },
];

export const priority: AdmissionPlugin = {
  name: "Priority",
  async mutate(a) {
    if (a.operation !== "CREATE" || !isPodWrite(a) || !a.object) return;
    const pod = a.object;
    const spec = (pod.spec ??= {});
    const classes = await priorityClassLister(new ObjectStorage(a.env));
    let value = 0;
    let preemptionPolicy = "PreemptLowerPriority";
    if (spec.priorityClassName) {
      const stored = classes.find((c) => c.metadata?.name === spec.priorityClassName);
      if (!stored) throw apiErrors.forbidden(`pods "${pod.metadata?.name ?? ""}" is forbidden: no PriorityClass with name ${spec.priorityClassName} was found`);
      value = stored.value ?? 0;
      preemptionPolicy = stored.preemptionPolicy ?? preemptionPolicy;
    } else {
      const defaults = classes.filter((c) => c.globalDefault).sort((x, y) => (x.value ?? 0) - (y.value ?? 0));
      const chosen = defaults[0];
      if (chosen) {
        spec.priorityClassName = chosen.metadata!.name;
        value = chosen.value ?? 0;
        preemptionPolicy = chosen.preemptionPolicy ?? preemptionPolicy;
      }
    }
    if (spec.priority !== undefined && spec.priority !== null && spec.priority !== value) {
      throw apiErrors.forbidden(`pods "${pod.metadata?.name ?? ""}" is forbidden: the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${value} from the given PriorityClass name`);
    }
    spec.priority = value;
    spec.preemptionPolicy ??= preemptionPolicy;
  },
};
