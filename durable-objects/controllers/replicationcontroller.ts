// The ReplicationController controller (kube-controller-manager 1.30's "replicationcontroller"): a
// ReplicationController has exactly `spec.replicas` active pods that match its equality selector
// and that it owns: the ReplicaSet controller's reconcile over v1 ReplicationControllers, with the
// same adoption, slow-start creates, deletion order, status and `ReplicaFailure` condition.
import type { ReplicaSet } from "kubernetes-types/apps/v1";
import { builtin } from "../../lib/k8s/resources.ts";
import { selects } from "./framework.ts";
import { replicaController } from "./replicaset.ts";

export const REPLICATION_CONTROLLERS = builtin("v1", "replicationcontrollers");

/** A ReplicationController's selector is a label map: every pair must match (validation forbids an empty one). */
export function selectsByEquality(rc: ReplicaSet, labels: Record<string, string> | undefined): boolean {
  const selector = rc.spec?.selector as unknown as Record<string, string> | undefined;
  if (!selector || Object.keys(selector).length === 0) return false;
  return selects({ matchLabels: selector }, labels);
}

export const replicationControllerController = replicaController({
  name: "replication-controller",
  resource: REPLICATION_CONTROLLERS,
  apiVersion: "v1",
  kind: "ReplicationController",
  selects: selectsByEquality,
});
