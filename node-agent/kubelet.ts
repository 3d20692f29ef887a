// One node's kubelet over a runtime: registers the Node (or takes up the one it registered
// before), then keeps its heartbeats and its pod workers running until stopped. An agent process
// runs one of these, or many for hollow nodes.
import type { Node } from "kubernetes-types/core/v1";
import { builtin } from "../lib/k8s/resources.ts";
import { ApiError } from "../lib/k8s/status.ts";
import { isAlreadyExists, type ApiClient, type ResourceClient } from "../lib/client/index.ts";
import { KubeletEvents } from "./events.ts";
import { NodeHeartbeat } from "./heartbeat.ts";
import { desiredConditions, registrationNode, stampConditions, type MachineFacts } from "./node-status.ts";
import { PodManager } from "./pods/pod-manager.ts";
import { StaticPodSource } from "./pods/static-pods.ts";
import type { Runtime } from "./runtime/runtime.ts";

export interface KubeletOptions {
  client: ApiClient;
  nodeName: string;
  runtime: Runtime;
  stateDir: string;
  facts: MachineFacts;
  labels?: Record<string, string>;
  /** The agent sets up the pod network itself (cri): it reports NetworkUnavailable. */
  reportsNetwork: boolean;
  /** The CA pinned at join (kube-root-ca.crt's content until the cluster publishes it). */
  rootCA?: string;
  /** The nameservers of ClusterFirst pods (the kubelet's --cluster-dns); none: they use the host's. */
  clusterDNS?: string[];
  /** The directory of static pod manifests (the kubelet's --pod-manifest-path), if any. */
  podManifestPath?: string;
  log: (message: string) => void;
}

export class Kubelet {
  private readonly options: KubeletOptions;
  private readonly nodes: ResourceClient<Node>;
  private heartbeat: NodeHeartbeat | undefined;
  private pods: PodManager | undefined;
  private readonly abort = new AbortController();

  constructor(options: KubeletOptions) {
    this.options = options;
    this.nodes = options.client.resource<Node>(builtin("v1", "nodes"));
  }

  /**
   * Registers the Node as the kubelet does: create it with its whole status, conditions included
   * (one write; `created` says so), or, when it exists (this node registered before), bring its
   * labels, addresses, capacity and nodeInfo up to date (the heartbeat then writes its conditions).
   */
  async register(): Promise<{ node: Node; created: boolean }> {
    const { nodeName, facts, runtime, labels, reportsNetwork } = this.options;
    const desired = registrationNode(nodeName, facts, await runtime.info(), labels);
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    desired.status!.conditions = stampConditions(undefined, desiredConditions(await runtime.health(), reportsNetwork), now);
    try {
      return { node: await this.nodes.create(undefined, desired), created: true };
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    await this.nodes.patch(undefined, nodeName, { metadata: { labels: desired.metadata!.labels } }, "merge");
    const { addresses, capacity, allocatable, nodeInfo, daemonEndpoints } = desired.status!;
    return { node: await this.nodes.patch(undefined, nodeName, { status: { addresses, capacity, allocatable, nodeInfo, daemonEndpoints } }, "merge", { subresource: "status" }), created: false };
  }

  /**
   * Registers, as the kubelet keeps trying while the apiserver fails (5xx, 429): 200 ms doubling to
   * 7 s. Any other failure (refused, or the runtime not answering) is thrown.
   */
  private async registerWithRetry(): Promise<{ node: Node; created: boolean }> {
    for (let delay = 200; ; delay = Math.min(7000, delay * 2)) {
      try {
        return await this.register();
      } catch (e) {
        if (!(e instanceof ApiError) || (e.code < 500 && e.code !== 429) || this.abort.signal.aborted) throw e;
        this.options.log(`registering the node failed (retrying in ${delay} ms): ${e.message}`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Registers, then heartbeats and runs pods until `stop`. Resolves once registered. */
  async start(): Promise<void> {
    const { node, created } = await this.registerWithRetry();
    const { client, nodeName, runtime, stateDir, facts, log } = this.options;
    this.heartbeat = new NodeHeartbeat({ client, node, runtime, reportsNetwork: this.options.reportsNetwork, log, registered: created });
    this.heartbeat.start();
    const heartbeat = this.heartbeat;
    this.pods = new PodManager({
      client, nodeName, runtime, stateDir, hostIPs: [facts.internalIP], node: () => heartbeat.current,
      staticPods: this.options.podManifestPath ? new StaticPodSource({ dir: this.options.podManifestPath, nodeName, log }) : undefined,
      events: new KubeletEvents(client, nodeName, log), rootCA: this.options.rootCA, clusterDNS: this.options.clusterDNS, log,
    });
    void this.pods.run(this.abort.signal);
  }

  /** Writes the Node's conditions now (its pod network just came up) rather than at the next heartbeat. */
  refreshStatus(): void {
    void this.heartbeat?.updateStatus().catch((e: Error) => this.options.log(`node status: ${e.message}`));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.heartbeat?.stop();
    this.pods?.stop();
  }
}
