// Hollow nodes for e2e suites (as KWOK keeps fake nodes): a Node registered through the API with
// capacity and a Ready condition, as a kubelet registers one, and its Lease in kube-node-lease
// renewed on an interval, as a kubelet's heartbeat does — without it the node controller marks the
// node Ready=Unknown once the node-monitor grace period (40 s) passes. `silence` stops one node's
// heartbeat, as a kubelet that died.
import { request } from "node:https";
import type { ControlPlane } from "../../scripts/dev-server.ts";

export interface HollowNodeSpec {
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
}

/** A MicroTime, as Leases carry their renewTime. */
const microTime = () => new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export class HollowNodes {
  private readonly plane: Pick<ControlPlane, "url" | "token" | "caPem">;
  private readonly beating = new Set<string>();
  private readonly timer: ReturnType<typeof setInterval>;

  /** `renewEveryMs`: the kubelet's lease renew interval (a quarter of the 40 s lease duration). */
  constructor(plane: Pick<ControlPlane, "url" | "token" | "caPem">, renewEveryMs = 10_000) {
    this.plane = plane;
    this.timer = setInterval(() => {
      for (const name of this.beating) void this.renew(name).catch(() => undefined);
    }, renewEveryMs);
  }

  async register(name: string, spec: HollowNodeSpec = {}): Promise<void> {
    const { cpu = "4", memory = "8Gi", pods = "110" } = spec;
    await this.send("POST", "/api/v1/nodes", {
      apiVersion: "v1", kind: "Node",
      metadata: { name, labels: { "kubernetes.io/hostname": name, ...spec.labels } },
      spec: spec.taints?.length ? { taints: spec.taints } : {},
    });
    const now = new Date().toISOString();
    await this.send("PATCH", `/api/v1/nodes/${name}/status`, {
      status: {
        capacity: { cpu, memory, pods }, allocatable: { cpu, memory, pods },
        conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: now, lastTransitionTime: now }],
      },
    }, "application/merge-patch+json");
    await this.send("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
      apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: "kube-node-lease" },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime() },
    });
    this.beating.add(name);
  }

  /** The node's kubelet stops: no more Lease renewals. */
  silence(name: string): void {
    this.beating.delete(name);
  }

  stop(): void {
    clearInterval(this.timer);
    this.beating.clear();
  }

  private renew(name: string): Promise<unknown> {
    return this.send("PATCH", `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`, { spec: { renewTime: microTime() } }, "application/merge-patch+json");
  }

  /** One API request with the admin token; a status other than 2xx is an error with the server's answer. */
  private send(method: string, path: string, body: unknown, contentType = "application/json"): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.plane.url), {
        method, ca: this.plane.caPem, headers: { Authorization: `Bearer ${this.plane.token}`, "Content-Type": contentType, Accept: "application/json" },
      }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(text ? JSON.parse(text) : undefined);
          else reject(new Error(`${method} ${path}: ${status} ${text}`));
        });
      });
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  }
}
