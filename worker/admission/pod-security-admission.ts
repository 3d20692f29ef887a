// PodSecurity admission: a namespace's pod-security.kubernetes.io/enforce|warn labels pick a Pod
// Security Standard (worker/admission/pod-security.ts); pods that break the enforced level are
// refused, and pods and workload templates that break the warned level get a Warning.
import { apiErrors } from "../../lib/k8s/status.ts";
import { namespaceOf, type AdmissionPlugin } from "./plugin.ts";
import { checkPodSpec, forbiddenMessage, isSignificantPodUpdate, namespacePolicy, podSpecOf, warningMessage } from "./pod-security.ts";

const WORKLOADS = new Set(["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController", "PodTemplate"]);

export const podSecurity: AdmissionPlugin = {
  name: "PodSecurity",
  async validate(a) {
    const { def, object } = a;
    if (!object || a.operation === "DELETE") return;
    if (def.group === "" && def.resource === "namespaces" && !a.subresource) {
      const errors = namespacePolicy(object.metadata?.labels).errors;
      const changed = a.operation === "CREATE" || JSON.stringify(object.metadata?.labels) !== JSON.stringify(a.oldObject?.metadata?.labels);
      if (errors.length && changed) throw apiErrors.invalid("", "Namespace", object.metadata?.name ?? "", errors);
      return;
    }
    const isPod = def.group === "" && def.resource === "pods" && (!a.subresource || a.subresource === "ephemeralcontainers");
    const isWorkload = !a.subresource && WORKLOADS.has(def.kind) && !def.custom;
    if ((!isPod && !isWorkload) || !a.namespace) return;
    if (isPod && a.operation === "UPDATE" && a.oldObject && !isSignificantPodUpdate(object, a.oldObject)) return;
    const template = podSpecOf(def.kind, object);
    if (!template) return;
    const policy = namespacePolicy((await namespaceOf(a))?.metadata?.labels);
    if (isPod && policy.enforce.level !== "privileged") {
      const violations = checkPodSpec(policy.enforce.level, template.metadata, template.spec, policy.enforce.version);
      if (violations.length) throw apiErrors.forbidden(forbiddenMessage(object.metadata?.name ?? "", policy.enforce.level, policy.enforce.version, violations));
    }
    if (policy.warn.level !== "privileged") {
      const violations = checkPodSpec(policy.warn.level, template.metadata, template.spec, policy.warn.version);
      if (violations.length) a.warnings.push(warningMessage(policy.warn.level, policy.warn.version, violations));
    }
  },
};
