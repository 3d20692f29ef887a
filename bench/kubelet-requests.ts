// The requests a kubelet makes, each as its own node credential sends it, for bench:api and
// bench:profile: its Lease update and Node GET (every 10 s per node), and per pod a core/v1 Event
// create, a pods/status merge patch and a TokenRequest bound to the pod. Nodes join as the agent
// joins (a bootstrap token asks for the node's credential; the node registers itself), and each
// gets one pod bound to it (created by the admin with spec.nodeName, as a static assignment).
import type { Lease } from "kubernetes-types/coordination/v1";
import type { Pod } from "kubernetes-types/core/v1";
import { bootstrapToken } from "./hollow-nodes.ts";
import { HttpTarget, runBatch } from "./load.ts";

/** One node as the benchmark drives it: its own client, its Lease as last written and its pod. */
export interface Kubelet {
  name: string;
  client: HttpTarget;
  lease: Lease;
  pod: { name: string; uid: string };
}

export const KUBELET_REQUESTS = ["lease update", "node get", "event create", "pod status patch", "token request"] as const;
export type KubeletRequest = (typeof KUBELET_REQUESTS)[number];

const LEASE_NAMESPACE = "kube-node-lease";

async function expect(client: HttpTarget, status: number, method: string, path: string, body?: unknown, contentType?: string): Promise<any> {
  const answer = await client.send(method, path, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), contentType);
  const text = answer.body.toString("utf8");
  if (answer.status !== status) throw new Error(`${method} ${path}: HTTP ${answer.status} (want ${status}): ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** kube's MicroTime, as the kubelet writes a Lease's renewTime. */
function microTime(ms: number): string {
  const d = new Date(ms);
  return `${d.toISOString().slice(0, 19)}.${String(d.getUTCMilliseconds() * 1000).padStart(6, "0")}Z`;
}

/**
 * `count` nodes named `${prefix}N`, each joined with its own credential, registered, holding its
 * Lease, with one pod bound to it in `namespace` (whose default ServiceAccount must exist).
 */
export async function joinKubelets(admin: HttpTarget, plane: { url: string; caPem?: string }, count: number, namespace: string, prefix = "kubelet-"): Promise<Kubelet[]> {
  const token = await bootstrapToken(admin);
  const joining = new HttpTarget(plane.url, { Authorization: `Bearer ${token}` }, 8, plane.caPem);
  const kubelets: Kubelet[] = [];
  try {
    const joined = await runBatch({
      concurrency: 8, count,
      op: async (i) => {
        const name = `${prefix}${i}`;
        const issued = await expect(joining, 201, "POST", `/api/v1/nodes/${name}/token`, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} });
        const client = new HttpTarget(plane.url, { Authorization: `Bearer ${issued.status.token}`, "User-Agent": "kubelet/v1.30.0 (linux/amd64) kubernetes/edgeplane" }, 4, plane.caPem);
        const node = await expect(client, 201, "POST", "/api/v1/nodes", {
          apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" } },
          status: {
            capacity: { cpu: "4", memory: "8Gi", pods: "110" }, allocatable: { cpu: "4", memory: "8Gi", pods: "110" },
            conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"), lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") }],
          },
        });
        const lease = await expect(client, 201, "POST", `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases`, {
          apiVersion: "coordination.k8s.io/v1", kind: "Lease",
          metadata: { name, namespace: LEASE_NAMESPACE, ownerReferences: [{ apiVersion: "v1", kind: "Node", name, uid: node.metadata.uid }] },
          spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime(Date.now()) },
        }) as Lease;
        const pod = await expect(admin, 201, "POST", `/api/v1/namespaces/${namespace}/pods`, {
          apiVersion: "v1", kind: "Pod", metadata: { name: `${name}-web`, labels: { app: "bench-kubelet" } },
          spec: { nodeName: name, containers: [{ name: "web", image: "nginx:1.27", resources: { requests: { cpu: "100m", memory: "64Mi" } } }] },
        }) as Pod;
        kubelets[i] = { name, client, lease, pod: { name: pod.metadata!.name!, uid: pod.metadata!.uid! } };
      },
    });
    if (joined.errors) throw new Error(`joining ${count} nodes: ${joined.errors} failed; first: ${(joined.firstError as Error).message}`);
  } finally {
    joining.close();
  }
  return kubelets;
}

/** One request of the given kind by the kubelet; `seq` makes each write a real change. Rejects unless the answer is the kubelet's success. */
export async function kubeletRequest(kind: KubeletRequest, kubelet: Kubelet, namespace: string, seq: number): Promise<void> {
  const { client, name, pod } = kubelet;
  const now = Date.now();
  switch (kind) {
    case "lease update": {
      const lease: Lease = { ...kubelet.lease, spec: { ...kubelet.lease.spec, renewTime: microTime(now) } };
      kubelet.lease = await expect(client, 200, "PUT", `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases/${name}`, lease);
      return;
    }
    case "node get":
      await expect(client, 200, "GET", `/api/v1/nodes/${name}`);
      return;
    case "event create": {
      const stamp = new Date(now).toISOString().replace(/\.\d+Z$/, "Z");
      await expect(client, 201, "POST", `/api/v1/namespaces/${namespace}/events`, {
        apiVersion: "v1", kind: "Event",
        metadata: { name: `${pod.name}.${(BigInt(now) * 1_000_000n + BigInt(seq % 1_000_000)).toString(16)}`, namespace },
        involvedObject: { apiVersion: "v1", kind: "Pod", name: pod.name, namespace, uid: pod.uid, fieldPath: "spec.containers{web}" },
        reason: "Pulled", message: `Container image "nginx:1.27" already present on machine`, type: "Normal",
        source: { component: "kubelet", host: name }, firstTimestamp: stamp, lastTimestamp: stamp, count: 1,
        reportingComponent: "kubelet", reportingInstance: name,
      });
      return;
    }
    case "pod status patch": {
      // What the agent's pod worker sends: the whole status as a merge patch; the restart count moves so each is a write.
      const stamp = new Date(now).toISOString().replace(/\.\d+Z$/, "Z");
      const ready = seq % 2 === 0 ? "True" : "False";
      await expect(client, 200, "PATCH", `/api/v1/namespaces/${namespace}/pods/${pod.name}/status`, {
        status: {
          phase: "Running", hostIP: "10.0.0.1", podIP: "10.244.0.5", podIPs: [{ ip: "10.244.0.5" }], startTime: stamp, qosClass: "Burstable",
          conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
            type, status: type === "Ready" || type === "ContainersReady" ? ready : "True", lastProbeTime: null, lastTransitionTime: stamp,
          })),
          containerStatuses: [{
            name: "web", image: "nginx:1.27", imageID: "docker.io/library/nginx@sha256:0000", containerID: `containerd://${pod.uid.replace(/-/g, "")}`,
            ready: ready === "True", started: true, restartCount: seq, state: { running: { startedAt: stamp } }, lastState: {},
          }],
        },
      }, "application/merge-patch+json");
      return;
    }
    case "token request":
      await expect(client, 201, "POST", `/api/v1/namespaces/${namespace}/serviceaccounts/default/token`, {
        apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest",
        spec: { audiences: [], expirationSeconds: 3607, boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.name, uid: pod.uid } },
      });
      return;
  }
}

export function closeKubelets(kubelets: Kubelet[]): void {
  for (const kubelet of kubelets) kubelet?.client.close();
}
