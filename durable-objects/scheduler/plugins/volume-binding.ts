// VolumeBinding, its basics: a pod waits while a PersistentVolumeClaim it uses is missing, being
// deleted, not created for it (ephemeral), or unbound with Immediate binding; a bound claim's volume
// must exist and its node affinity must admit the node. A delayed (WaitForFirstConsumer) claim
// fits any node when its class has a provisioner, which makes the volume on the node the pod lands
// on (the PV binder writes that node on the claim once the pod is bound); matching existing volumes
// of a class without a provisioner to nodes is not done here, and such a pod stays pending.
import type { StateData } from "../framework/cycle-state.ts";
import { ActionType } from "../framework/events.ts";
import type { PluginFactory } from "../framework/interface.ts";
import { asError, skip, unresolvable } from "../framework/status.ts";
import { nodeSelectorMatches } from "../node-selector.ts";
import type { ClaimInfo } from "../snapshot.ts";
import { NO_PROVISIONER } from "../../../lib/k8s/storage.ts";

const NAME = "VolumeBinding";
const ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind";
const ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict";
const ERR_REASON_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
const ERR_REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims";
const PRE_FILTER_KEY = `PreFilter${NAME}`;

const canProvision = (provisioner: string | undefined) => !!provisioner && provisioner !== NO_PROVISIONER;

class PreFilterState implements StateData {
  readonly bound: readonly ClaimInfo[];
  readonly delayed: readonly ClaimInfo[];

  constructor(bound: readonly ClaimInfo[], delayed: readonly ClaimInfo[]) {
    this.bound = bound;
    this.delayed = delayed;
  }
  clone() {
    return this;
  }
}

export const volumeBinding: PluginFactory = () => ({
  name: NAME,
  events: [
    { resource: "StorageClass", actionType: ActionType.Add | ActionType.Update, label: "StorageClass" },
    { resource: "PersistentVolumeClaim", actionType: ActionType.Add | ActionType.Update, label: "PersistentVolumeClaim" },
    { resource: "PersistentVolume", actionType: ActionType.Add | ActionType.Update, label: "PersistentVolume" },
    { resource: "Node", actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint, label: "Node" },
  ],
  preFilter(state, pod) {
    if (pod.spec.volumeClaims.length === 0) return skip();
    const snapshot = state.snapshot;
    const claims: ClaimInfo[] = [];
    // podHasPVCs: every claim exists, is not going away, and an ephemeral one belongs to this pod.
    for (const v of pod.spec.volumeClaims) {
      const ephemeral = v.claimName === undefined;
      const name = v.claimName ?? `${pod.name}-${v.volume}`;
      const claim = snapshot.claims.get(`${pod.namespace}/${name}`);
      if (!claim) {
        return unresolvable(ephemeral ? `waiting for ephemeral volume controller to create the persistentvolumeclaim "${name}"` : `persistentvolumeclaim "${name}" not found`);
      }
      if (claim.deleting) return unresolvable(`persistentvolumeclaim "${name}" is being deleted`);
      if (ephemeral && claim.controllerUid !== pod.uid) {
        return unresolvable(`PVC ${pod.namespace}/${name} was not created for pod ${pod.namespace}/${pod.name} (pod is not owner)`);
      }
      claims.push(claim);
    }
    const bound: ClaimInfo[] = [];
    const delayed: ClaimInfo[] = [];
    let unboundImmediate = false;
    for (const claim of claims) {
      if (claim.bound) {
        bound.push(claim);
        continue;
      }
      const className = claim.storageClassName ?? "";
      let delay = false;
      if (className !== "") {
        const sc = snapshot.storageClasses.get(className);
        if (!sc) return asError(`storageclass.storage.k8s.io "${className}" not found`);
        delay = sc.volumeBindingMode === "WaitForFirstConsumer";
      }
      if (delay && claim.volumeName === "") delayed.push(claim);
      else unboundImmediate = true;
    }
    if (unboundImmediate) return unresolvable(ERR_REASON_UNBOUND_IMMEDIATE);
    state.write(PRE_FILTER_KEY, new PreFilterState(bound, delayed));
    return undefined;
  },
  filter(state, _pod, info) {
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    if (!s) return asError(`reading "${PRE_FILTER_KEY}" from cycleState: not found`);
    const reasons: string[] = [];
    for (const claim of s.bound) {
      const pv = state.snapshot.volumes.get(claim.volumeName);
      if (!pv) {
        reasons.push(ERR_REASON_PV_NOT_EXIST);
        break;
      }
      if (pv.nodeAffinity && !nodeSelectorMatches(pv.nodeAffinity, info.node!)) {
        reasons.push(ERR_REASON_NODE_CONFLICT);
        break;
      }
    }
    if (s.delayed.some((claim) => !canProvision(state.snapshot.storageClasses.get(claim.storageClassName ?? "")?.provisioner))) reasons.push(ERR_REASON_BIND_CONFLICT);
    return reasons.length > 0 ? unresolvable(...reasons) : undefined;
  },
});
