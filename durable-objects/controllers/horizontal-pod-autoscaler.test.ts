// The HPA controller's reconcile against the real apiserver when resource metrics are served: the
// metrics.k8s.io answers (served by the node tunnel issue, not yet here) come from a stand-in in
// front of the Worker; everything else — the scale subresource, pods, status, Events — is real.
import type { ReplicaSet } from "kubernetes-types/apps/v1";
import type { HorizontalPodAutoscaler } from "kubernetes-types/autoscaling/v2";
import type { Pod } from "kubernetes-types/core/v1";
import type { Event as EventV1 } from "kubernetes-types/events/v1";
import { describe, expect, it } from "vitest";
import { ApiClient, EventRecorder, Informer, type KubeObject } from "../../lib/client/index.ts";
import { createDefaultServiceAccount, freshNamespace, testClient, workerFetch } from "../../lib/client/testing.ts";
import { builtin, type ResourceNames } from "../../lib/k8s/resources.ts";
import { resourceId, type Listers, type ReconcileContext } from "./framework.ts";
import { HPAS, horizontalPodAutoscalerController } from "./horizontal-pod-autoscaler.ts";
import { PODS } from "./replicaset.ts";
import { controllerSettings } from "./settings.ts";

const admin = testClient();
const replicaSets = admin.resource<ReplicaSet>(builtin("apps/v1", "replicasets"));
const pods = admin.resource<Pod>(PODS);
const hpas = admin.resource<HorizontalPodAutoscaler>(HPAS);
const events = admin.resource<EventV1>(builtin("events.k8s.io/v1", "events"));

/** The Worker, with metrics.k8s.io answered from `usage` (millicores per pod), as a metrics server would. */
function withMetrics(usage: Map<string, number>): ApiClient {
  const fetch = async (request: Request) => {
    const path = new URL(request.url).pathname;
    const served = path.match(/^\/apis\/metrics\.k8s\.io\/v1beta1\/namespaces\/([^/]+)\/pods$/);
    if (!served) return workerFetch(request);
    const now = new Date().toISOString();
    const items = [...usage].map(([name, milli]) => ({ metadata: { name, namespace: served[1] }, timestamp: now, window: "15s", containers: [{ name: "c", usage: { cpu: `${milli}m`, memory: "1Mi" } }] }));
    return Response.json({ kind: "PodMetricsList", apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items });
  };
  return new ApiClient({ fetch, baseUrl: "https://edgeplane.test", token: "test-admin-token" });
}

async function context(client: ApiClient): Promise<ReconcileContext> {
  const informers = new Map<string, Informer<KubeObject>>();
  for (const resource of [PODS, HPAS]) {
    const informer = new Informer<KubeObject>(client.resource<KubeObject>(resource));
    await informer.catchUp();
    informers.set(resourceId(resource), informer);
  }
  const listers = { of: (resource: ResourceNames) => informers.get(resourceId(resource))!.lister } as Listers;
  return { client, listers, recorder: new EventRecorder(client, { reportingController: "horizontal-pod-autoscaler", reportingInstance: "test" }), now: () => Date.now(), settings: controllerSettings({}) };
}

describe("the HPA controller with resource metrics", () => {
  it("scales a ReplicaSet whose pods use twice their target through its scale subresource", async () => {
    const ns = await freshNamespace(admin, "hpa-metrics");
    await createDefaultServiceAccount(ns);
    const labels = { app: "busy" };
    await replicaSets.create(ns, { metadata: { name: "busy" }, spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "c", image: "busybox" }] } } } });
    const started = new Date(Date.now() - 10 * 60_000).toISOString();
    for (const name of ["busy-a", "busy-b"]) {
      await pods.create(ns, { metadata: { name, labels }, spec: { containers: [{ name: "c", image: "busybox", resources: { requests: { cpu: "100m" } } }] } });
      await pods.patch(ns, name, { status: { phase: "Running", startTime: started, conditions: [{ type: "Ready", status: "True", lastTransitionTime: started }] } }, "strategic", { subresource: "status" });
    }
    await hpas.create(ns, {
      metadata: { name: "busy" },
      spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "ReplicaSet", name: "busy" }, minReplicas: 1, maxReplicas: 10, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } } }] },
    });
    const client = withMetrics(new Map([["busy-a", 100], ["busy-b", 100]]));
    const controller = horizontalPodAutoscalerController();
    expect(await controller.reconcile(`${ns}/busy`, await context(client))).toEqual({ requeueAfter: 15_000 });

    expect((await replicaSets.get(ns, "busy")).spec!.replicas).toBe(4);
    const status = (await hpas.get(ns, "busy")).status!;
    expect(status).toMatchObject({ currentReplicas: 2, desiredReplicas: 4, lastScaleTime: expect.any(String) });
    expect(status.currentMetrics).toEqual([{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: 100, averageValue: "100m" } } }]);
    expect(status.conditions).toEqual([
      expect.objectContaining({ type: "AbleToScale", status: "True", reason: "SucceededRescale", message: "the HPA controller was able to update the target scale to 4" }),
      expect.objectContaining({ type: "ScalingActive", status: "True", reason: "ValidMetricFound", message: "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)" }),
      expect.objectContaining({ type: "ScalingLimited", status: "False", reason: "DesiredWithinRange" }),
    ]);
    const rescale = (await events.list(ns)).items.find((e) => e.reason === "SuccessfulRescale");
    expect(rescale?.note).toBe("New size: 4; reason: cpu resource utilization (percentage of request) above target");

    // Usage falls to a fifth of the target: the 5-minute window holds the scale where it is.
    const idle = withMetrics(new Map([["busy-a", 10], ["busy-b", 10]]));
    const later = { ...(await context(idle)), now: () => Date.now() + 20_000 };
    await controller.reconcile(`${ns}/busy`, later);
    expect((await replicaSets.get(ns, "busy")).spec!.replicas).toBe(4);
    expect((await hpas.get(ns, "busy")).status!.conditions).toContainEqual(expect.objectContaining({ type: "AbleToScale", status: "True", reason: "ScaleDownStabilized" }));
  });
});
