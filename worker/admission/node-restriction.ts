// NodeRestriction: a node may write only its own Node and Lease, create only mirror pods bound to
// itself (owned by no one or by its own Node, referring to no other API object), write the status of and delete only pods bound to itself, and may not set the labels
// reserved for administrators (node-restriction.kubernetes.io/*), as kube's plugin allows; and
// (edgeplane's local-path provisioner) create and delete only its own local-path volumes.
import { apiErrors } from "../../lib/k8s/status.ts";
import { nodeName } from "../authz/node.ts";
import type { KubeObject } from "../registry/types.ts";
import { objectKey } from "../storage/keys.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { LOCAL_PATH_NODE_LABEL } from "../../lib/k8s/storage.ts";
import type { AdmissionPlugin } from "./plugin.ts";

const MIRROR = "kubernetes.io/config.mirror";
const RESTRICTED_LABEL = /^(?:[^/]*\.)?node-restriction\.kubernetes\.io\//;

function forbidden(message: string) {
  return apiErrors.forbidden(message);
}

/** Why a node may not create this mirror pod, as kube's plugin says it; undefined when it may. */
function mirrorPodProblem(pod: KubeObject, node: string, nodeUID: () => Promise<string | undefined>): Promise<string | undefined> | string | undefined {
  const owners: Record<string, any>[] = pod.metadata?.ownerReferences ?? [];
  if (owners.length > 1) return `node "${node}" can only create pods with a single owner reference set to itself`;
  const spec = pod.spec ?? {};
  if (spec.serviceAccountName) return `node "${node}" can not create pods that reference a service account`;
  const volumes: Record<string, any>[] = spec.volumes ?? [];
  const sources = volumes.flatMap((v) => [v, ...(v.projected?.sources ?? [])]);
  const envs = [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])]
    .flatMap((c: Record<string, any>) => [...(c.env ?? []).map((e: Record<string, any>) => e.valueFrom ?? {}), ...(c.envFrom ?? [])]);
  if (sources.some((v) => v.secret) || envs.some((e) => e.secretKeyRef || e.secretRef) || (spec.imagePullSecrets ?? []).length) {
    return `node "${node}" can not create pods that reference secrets`;
  }
  if (sources.some((v) => v.configMap) || envs.some((e) => e.configMapKeyRef || e.configMapRef)) return `node "${node}" can not create pods that reference configmaps`;
  if (volumes.some((v) => v.persistentVolumeClaim || v.ephemeral)) return `node "${node}" can not create pods that reference persistentvolumeclaims`;
  const owner = owners[0];
  if (!owner) return undefined;
  if (owner.apiVersion !== "v1" || owner.kind !== "Node" || owner.name !== node) return `node "${node}" can only create pods with an owner reference set to itself`;
  if (owner.controller !== true) return `node "${node}" can only create pods with a controller owner reference set to itself`;
  if (owner.blockOwnerDeletion === true) return `node "${node}" must not set blockOwnerDeletion on an owner reference`;
  return nodeUID().then((uid) => (uid === owner.uid ? undefined : `node ${node} UID mismatch: expected ${owner.uid} got ${uid ?? ""}`));
}

export const nodeRestriction: AdmissionPlugin = {
  name: "NodeRestriction",
  async validate(a) {
    const node = nodeName(a.user);
    if (!node) return;
    const { def } = a;
    const object = a.object ?? a.oldObject;
    if (def.group === "" && def.resource === "nodes") {
      const name = object?.metadata?.name;
      if (name !== node) throw forbidden(`nodes "${name}" is forbidden: node "${node}" is not allowed to modify node "${name}"`);
      const before: Record<string, string> = a.oldObject?.metadata?.labels ?? {};
      const after: Record<string, string> = a.object?.metadata?.labels ?? {};
      const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k] && RESTRICTED_LABEL.test(k));
      if (changed.length) throw forbidden(`nodes "${name}" is forbidden: is not allowed to modify labels: ${changed.sort().join(", ")}`);
      return;
    }
    if (def.group === "" && def.resource === "pods") {
      const name = object?.metadata?.name ?? "";
      const bound = object?.spec?.nodeName === node;
      if (a.operation === "CREATE" && !a.subresource) {
        if (!a.object?.metadata?.annotations?.[MIRROR]) throw forbidden(`pods "${name}" is forbidden: pod does not have "${MIRROR}" annotation, node "${node}" can only create mirror pods`);
        if (!bound) throw forbidden(`pods "${name}" is forbidden: node "${node}" can only create pods with spec.nodeName set to itself`);
        const nodeUID = async () => (await new ObjectStorage(a.env).get(objectKey("", "nodes", undefined, node)))?.object.metadata?.uid as string | undefined;
        const problem = await mirrorPodProblem(a.object!, node, nodeUID);
        if (problem) throw forbidden(`pods "${name}" is forbidden: ${problem}`);
        return;
      }
      if (a.operation === "DELETE" && !bound) throw forbidden(`pods "${name}" is forbidden: node "${node}" can only delete pods with spec.nodeName set to itself`);
      if (a.operation === "UPDATE") {
        if (a.subresource !== "status") throw forbidden(`pods "${name}" is forbidden: node "${node}" can only update pod status`);
        if (a.oldObject?.spec?.nodeName !== node) throw forbidden(`pods "${name}" is forbidden: node "${node}" can only update pod status for pods with spec.nodeName set to itself`);
      }
      return;
    }
    if (def.group === "" && def.resource === "persistentvolumes") {
      // The local-path provisioner in the agent: only its own node's volumes, pinned to that node.
      const name = object?.metadata?.name ?? "";
      if (a.operation === "UPDATE") throw forbidden(`persistentvolumes "${name}" is forbidden: node "${node}" may not update persistent volumes`);
      const terms: Record<string, any>[] = object?.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? [];
      const pinned = terms.length > 0 && terms.every((t) => (t.matchExpressions ?? []).some((e: Record<string, any>) =>
        e.key === "kubernetes.io/hostname" && e.operator === "In" && e.values?.length === 1 && e.values[0] === node));
      if (object?.metadata?.labels?.[LOCAL_PATH_NODE_LABEL] !== node || !pinned) {
        throw forbidden(`persistentvolumes "${name}" is forbidden: node "${node}" may only create or delete local-path volumes with node affinity to itself`);
      }
      return;
    }
    if (def.group === "coordination.k8s.io" && def.resource === "leases") {
      if (a.namespace !== "kube-node-lease" || object?.metadata?.name !== node) {
        throw forbidden(`leases.coordination.k8s.io "${object?.metadata?.name ?? ""}" is forbidden: can only access node lease with the same name as the requesting node`);
      }
    }
  },
};
