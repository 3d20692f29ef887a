// Subresources beyond status: scale (autoscaling/v1 Scale over spec.replicas), pods/binding
// (the scheduler's write) and pods/eviction (a delete that honours PodDisruptionBudgets).
import { kubeTime } from "../../lib/k8s/time.ts";
import { formatLabelSelector, labelSelectorFromObject, matchesLabels } from "../../lib/k8s/selectors.ts";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import { policyResources } from "./policy.ts";
import { RegistryStore, type DeleteOptions } from "./store.ts";
import type { KubeObject, ResourceDefinition } from "./types.ts";

// ---- scale ----

function selectorString(object: KubeObject): string {
  const selector = object.spec?.selector;
  if (!selector) return "";
  // ReplicationControllers select with a plain map; the apps kinds with a LabelSelector.
  const requirements = selector.matchLabels || selector.matchExpressions ? labelSelectorFromObject(selector) : labelSelectorFromObject({ matchLabels: selector });
  return requirements === "nothing" ? "" : formatLabelSelector(requirements);
}

/** Reads a JSON path such as ".spec.replicas" (dots only, as scale paths are). */
function readPath(object: KubeObject, path: string): unknown {
  let value: any = object;
  for (const key of path.replace(/^\./, "").split(".")) value = value?.[key];
  return value;
}

function writePath(object: KubeObject, path: string, value: unknown): void {
  const keys = path.replace(/^\./, "").split(".");
  let node: any = object;
  for (const key of keys.slice(0, -1)) node = node[key] ??= {};
  node[keys.at(-1)!] = value;
}

/** The Scale of an object: built-in kinds keep it at fixed places, custom resources where their CRD says. */
export function scaleOf(object: KubeObject, def?: ResourceDefinition): KubeObject {
  const m = object.metadata ?? {};
  const paths = def?.scalePaths;
  const selector = paths ? (paths.labelSelectorPath ? readPath(object, paths.labelSelectorPath) : undefined) : selectorString(object);
  return {
    kind: "Scale", apiVersion: "autoscaling/v1",
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: (paths ? readPath(object, paths.specReplicasPath) : object.spec?.replicas) ?? 0 },
    status: { replicas: (paths ? readPath(object, paths.statusReplicasPath) : object.status?.replicas) ?? 0, ...(typeof selector === "string" && selector ? { selector } : paths ? {} : { selector: "" }) },
  };
}

/** Writes a Scale's replicas into its object; a resourceVersion in the Scale is a precondition. */
export async function updateScale(store: RegistryStore, namespace: string | undefined, name: string, change: (scale: KubeObject) => KubeObject, dryRun: boolean, manager?: string): Promise<KubeObject> {
  const updated = await store.guaranteedUpdate(namespace, name, { dryRun, manager }, (current) => {
    const scale = change(scaleOf(current, store.def));
    if (scale.kind && scale.kind !== "Scale") throw apiErrors.badRequest(`expected a Scale, got ${scale.kind}`);
    const wanted = scale.metadata?.resourceVersion;
    if (wanted && wanted !== current.metadata!.resourceVersion) throw store.staleError(name);
    const replicas = scale.spec?.replicas;
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw apiErrors.invalid("autoscaling", "Scale", name, [{ reason: "FieldValueInvalid", field: "spec.replicas", message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }]);
    }
    const paths = store.def.scalePaths;
    if (paths) {
      writePath(current, paths.specReplicasPath, replicas);
      return current;
    }
    return { ...current, spec: { ...current.spec, replicas } };
  });
  return scaleOf(updated, store.def);
}

// ---- pods/binding ----

/**
 * The scheduler's write, as kube's BindingREST: the pod gets its node, the binding's annotations
 * and PodScheduled=True in one store update, straight beneath the pod strategy (no update
 * validation, no managedFields entry, as kube records none for a binding). The binding's uid and
 * resourceVersion, when set, are preconditions on the pod.
 */
export async function bindPod(pods: RegistryStore, namespace: string, name: string, binding: KubeObject, dryRun: boolean): Promise<KubeObject> {
  if (binding === null || typeof binding !== "object" || Array.isArray(binding)) throw apiErrors.badRequest("the body of the request must be a Binding object");
  if (binding.kind !== undefined && binding.kind !== "Binding") throw apiErrors.badRequest(`expected a Binding, got ${binding.kind}`);
  if (binding.metadata?.name !== undefined && binding.metadata.name !== name) throw apiErrors.badRequest("name in URL does not match name in Binding object");
  const node = binding.target?.name;
  if (binding.target?.kind && binding.target.kind !== "Node") throw apiErrors.badRequest(`binding target must be a Node, got ${binding.target.kind}`);
  if (!node || typeof node !== "string") throw apiErrors.invalid("", "Binding", name, [{ reason: "FieldValueRequired", field: "target.name", message: "Required value" }]);
  const annotations = binding.metadata?.annotations;
  if (annotations !== undefined && annotations !== null && (typeof annotations !== "object" || Array.isArray(annotations) || Object.values(annotations).some((v) => typeof v !== "string"))) {
    throw apiErrors.invalid("", "Binding", name, [{ reason: "FieldValueInvalid", field: "metadata.annotations", message: "Invalid value: must be a map of strings to strings" }]);
  }
  const { uid, resourceVersion } = binding.metadata ?? {};
  const refused = (why: string) => apiErrors.conflict("", "pods/binding", name, why);
  await pods.storageUpdate(namespace, name, dryRun, (pod) => {
    const meta = pod.metadata!;
    if (uid && uid !== meta.uid) throw refused(`Precondition failed: UID in precondition: ${uid}, UID in object meta: ${meta.uid}`);
    if (resourceVersion && resourceVersion !== meta.resourceVersion) throw refused(`Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion}`);
    if (meta.deletionTimestamp) throw refused(`pod ${name} is being deleted, cannot be assigned to a host`);
    if (pod.spec?.nodeName) throw refused(`pod ${name} is already assigned to node "${pod.spec.nodeName}"`);
    if (pod.spec?.schedulingGates?.length) throw refused(`pod ${name} has non-empty .spec.schedulingGates`);
    pod.spec = { ...pod.spec, nodeName: node };
    if (annotations && Object.keys(annotations).length) meta.annotations = { ...meta.annotations, ...annotations };
    pod.status = { ...pod.status, conditions: withPodCondition(pod.status?.conditions, { type: "PodScheduled", status: "True" }) };
    return pod;
  });
  return success(201);
}

// ---- pods/eviction ----

const pdbDef = policyResources.find((r) => r.resource === "poddisruptionbudgets")!;

export async function evictPod(pods: RegistryStore, namespace: string, name: string, eviction: KubeObject, dryRun: boolean): Promise<KubeObject> {
  if (eviction === null || typeof eviction !== "object" || Array.isArray(eviction)) throw apiErrors.badRequest("the body of the request must be an Eviction object");
  if (eviction.kind && eviction.kind !== "Eviction") throw apiErrors.badRequest(`expected an Eviction, got ${eviction.kind}`);
  if (eviction.metadata?.name !== name) throw apiErrors.badRequest("name in URL does not match name in Eviction object");
  const pod = await pods.get(namespace, name);
  const deleteOptions: DeleteOptions = { ...eviction?.deleteOptions, dryRun };
  // Pods that are done, or not yet running anything, are not protected by budgets.
  if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed" || pod.status?.phase === "Pending" || pod.metadata!.deletionTimestamp) {
    await markDisruptedAndDelete(pods, namespace, name, deleteOptions);
    return success(201);
  }
  const budgets = new RegistryStore(pdbDef, pods.storage);
  const matching = ((await budgets.list(namespace, {})).items as KubeObject[]).filter((pdb) => {
    const selector = labelSelectorFromObject(pdb.spec?.selector);
    return selector !== "nothing" && matchesLabels(selector, pod.metadata!.labels);
  });
  if (matching.length > 1) {
    throw new ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
  }
  const pdb = matching[0];
  if (pdb && unhealthyPodMayGo(pod, pdb)) {
    // The pod does not count towards the budget's health: deleted as it was read.
    await markDisruptedAndDelete(pods, namespace, name, { ...deleteOptions, preconditions: { ...deleteOptions.preconditions, resourceVersion: pod.metadata!.resourceVersion } });
    return success(201);
  }
  if (pdb) {
    await budgets.guaranteedUpdate(namespace, pdb.metadata!.name, { dryRun, subresource: "status" }, (current) => {
      const status = current.status ?? {};
      if ((status.observedGeneration ?? 0) < (current.metadata!.generation ?? 1)) {
        throw tooManyRequests(`Cannot evict pod as it would violate the pod's disruption budget.`, `The disruption budget ${current.metadata!.name} is still being processed by the server.`);
      }
      if ((status.disruptionsAllowed ?? 0) < 0) throw apiErrors.forbidden(`poddisruptionbudgets.policy "${current.metadata!.name}" is forbidden: pdb disruptions allowed is negative`);
      if ((status.disruptionsAllowed ?? 0) < 1) {
        throw tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.",
          `The disruption budget ${current.metadata!.name} needs ${status.desiredHealthy ?? 0} healthy pods and has ${status.currentHealthy ?? 0} currently`);
      }
      const decremented = { ...status, disruptionsAllowed: status.disruptionsAllowed - 1, disruptedPods: { ...status.disruptedPods, [name]: kubeTime() } };
      // The controller's DisruptionAllowed condition turns False with the last allowed disruption.
      if (decremented.disruptionsAllowed === 0) decremented.conditions = insufficientPods(status);
      return { ...current, status: decremented };
    });
  }
  await markDisruptedAndDelete(pods, namespace, name, deleteOptions);
  return success(201);
}

/**
 * The pod gets DisruptionTarget=True (EvictionByEvictionAPI) before it is deleted, as kube's eviction
 * marks it (a Job's podFailurePolicy can tell an eviction from a failure); a resourceVersion
 * precondition then names the marked pod.
 */
async function markDisruptedAndDelete(pods: RegistryStore, namespace: string, name: string, options: DeleteOptions): Promise<void> {
  if (!options.dryRun) {
    const marked = await pods.guaranteedUpdate(namespace, name, { subresource: "status" }, (pod) => {
      const { uid, resourceVersion } = options.preconditions ?? {};
      if (uid && uid !== pod.metadata!.uid) {
        throw apiErrors.conflict("", "pods", name, `the UID in the precondition (${uid}) does not match the UID in record (${pod.metadata!.uid}). The object might have been deleted and then recreated`);
      }
      if (resourceVersion && resourceVersion !== pod.metadata!.resourceVersion) throw pods.staleError(name);
      pod.status = { ...pod.status, conditions: withPodCondition(pod.status?.conditions, { type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI", message: "Eviction API: evicting" }) };
      return pod;
    });
    if (options.preconditions?.resourceVersion) options = { ...options, preconditions: { ...options.preconditions, resourceVersion: marked.metadata!.resourceVersion } };
  }
  await pods.delete(namespace, name, options);
}

/** podutil.UpdatePodCondition: the condition replaces the one of its type; the transition time moves only when the status does. */
function withPodCondition(conditions: Record<string, unknown>[] | undefined, condition: { type: string; status: string; reason?: string; message?: string }): Record<string, unknown>[] {
  const existing = (conditions ?? []).find((c) => c.type === condition.type);
  const updated = { ...condition, lastProbeTime: null, lastTransitionTime: existing?.status === condition.status ? existing.lastTransitionTime : kubeTime() };
  return existing ? conditions!.map((c) => (c === existing ? updated : c)) : [...(conditions ?? []), updated];
}

function isReady(pod: KubeObject): boolean {
  return (pod.status?.conditions ?? []).some((c: { type?: string; status?: string }) => c.type === "Ready" && c.status === "True");
}

/** An unready pod may go without spending the budget: always (AlwaysAllow), or while the budget is met (IfHealthyBudget). */
function unhealthyPodMayGo(pod: KubeObject, pdb: KubeObject): boolean {
  if (isReady(pod)) return false;
  if (pdb.spec?.unhealthyPodEvictionPolicy === "AlwaysAllow") return true;
  const { currentHealthy = 0, desiredHealthy = 0 } = pdb.status ?? {};
  return desiredHealthy > 0 && currentHealthy >= desiredHealthy;
}

function insufficientPods(status: KubeObject["status"]): unknown[] {
  const conditions: { type?: string; status?: string; lastTransitionTime?: string }[] = status.conditions ?? [];
  const existing = conditions.find((c) => c.type === "DisruptionAllowed");
  const condition = {
    type: "DisruptionAllowed", status: "False", reason: "InsufficientPods", message: "", observedGeneration: status.observedGeneration,
    lastTransitionTime: existing?.status === "False" ? existing.lastTransitionTime : kubeTime(),
  };
  return existing ? conditions.map((c) => (c === existing ? condition : c)) : [...conditions, condition];
}

/** A refusal the caller may retry later; its cause is of kube's type DisruptionBudget. */
function tooManyRequests(message: string, causeMessage: string): ApiError {
  return new ApiError(429, "TooManyRequests", message, { causes: [{ reason: "DisruptionBudget", message: causeMessage }] });
}

function success(code: number): KubeObject {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code };
}
