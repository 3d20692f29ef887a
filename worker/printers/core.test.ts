// Core-group rows as kubectl shows them, for representative objects at a fixed time.
import type {
  ConfigMap,
  ContainerStatus,
  Endpoints,
  Event,
  Namespace,
  Node,
  PersistentVolumeClaim,
  Pod,
  PodTemplate,
  ReplicationController,
  ResourceQuota,
  Secret,
  Service,
  ServiceAccount,
} from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { corePrinters } from "./core.ts";
import type { TablePrinter } from "./table.ts";

const now = new Date("2024-05-01T12:00:00Z");
const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: "default", creationTimestamp: ago(10 * m), ...extra });

function printer<T>(key: string): TablePrinter<T> {
  const found = corePrinters[key];
  if (!found) throw new Error(`no printer for ${key}`);
  return found;
}

describe("column definitions", () => {
  it.each([
    ["/Pod", "Name,Ready,Status,Restarts,Age", "IP,Node,Nominated Node,Readiness Gates"],
    ["/PodTemplate", "Name,Containers,Images,Pod Labels", ""],
    ["/Node", "Name,Status,Roles,Age,Version", "Internal-IP,External-IP,OS-Image,Kernel-Version,Container-Runtime"],
    ["/Namespace", "Name,Status,Age", ""],
    ["/Service", "Name,Type,Cluster-IP,External-IP,Port(s),Age", "Selector"],
    ["/Endpoints", "Name,Endpoints,Age", ""],
    ["/ConfigMap", "Name,Data,Age", ""],
    ["/Secret", "Name,Type,Data,Age", ""],
    ["/ServiceAccount", "Name,Secrets,Age", ""],
    ["/Event", "Last Seen,Type,Reason,Object,Message", "Subobject,Source,First Seen,Count,Name"],
    ["/ReplicationController", "Name,Desired,Current,Ready,Age", "Containers,Images,Selector"],
    ["/ResourceQuota", "Name,Request,Limit,Age", ""],
    ["/PersistentVolumeClaim", "Name,Status,Volume,Capacity,Access Modes,StorageClass,VolumeAttributesClass,Age", "VolumeMode"],
  ])("%s", (key, normal, wide) => {
    const columns = printer(key).columns;
    expect(columns.filter((c) => c.priority === 0).map((c) => c.name)).toEqual(normal.split(","));
    expect(columns.filter((c) => c.priority === 1).map((c) => c.name)).toEqual(wide ? wide.split(",") : []);
    expect(columns.find((c) => c.name === "Name")?.format).toBe("name");
  });
});

describe("Pod", () => {
  const pods = printer<Pod>("/Pod");
  const running = (name: string, extra: Partial<ContainerStatus> = {}): ContainerStatus => ({
    name,
    image: `${name}:1`,
    imageID: "",
    ready: true,
    restartCount: 0,
    state: { running: { startedAt: ago(9 * m) } },
    ...extra,
  });
  const pod = (spec: Partial<Pod["spec"]> & object, status: Pod["status"], extra: Partial<Pod["metadata"]> = {}): Pod => ({
    metadata: meta("web", extra),
    spec: { containers: [{ name: "app", image: "app:1" }], ...spec },
    status,
  });
  const two = { containers: [{ name: "app" }, { name: "log" }] };

  it.each<[string, Pod, unknown[]]>([
    [
      "a running pod with one of two containers ready and three restarts",
      pod(two, {
        phase: "Running",
        containerStatuses: [
          running("app"),
          running("log", { ready: false, restartCount: 3, lastState: { terminated: { exitCode: 1, finishedAt: ago(5 * m) } } }),
        ],
      }),
      ["web", "1/2", "Running", "3 (5m ago)", "10m"],
    ],
    [
      "a pending pod not yet scheduled",
      pod({}, { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }] }),
      ["web", "0/1", "Pending", "0", "10m"],
    ],
    [
      "a pod held by a scheduling gate",
      pod({}, { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "SchedulingGated" }] }),
      ["web", "0/1", "SchedulingGated", "0", "10m"],
    ],
    [
      "a pod whose containers are being created",
      pod({}, { phase: "Pending", containerStatuses: [running("app", { ready: false, state: { waiting: { reason: "ContainerCreating" } } })] }),
      ["web", "0/1", "ContainerCreating", "0", "10m"],
    ],
    [
      "a crash-looping pod",
      pod({}, {
        phase: "Running",
        containerStatuses: [
          running("app", {
            ready: false,
            restartCount: 4,
            state: { waiting: { reason: "CrashLoopBackOff" } },
            lastState: { terminated: { exitCode: 2, reason: "Error", finishedAt: ago(30 * s) } },
          }),
        ],
      }),
      ["web", "0/1", "CrashLoopBackOff", "4 (30s ago)", "10m"],
    ],
    [
      "a pod whose first failing container decides the status",
      pod(two, {
        phase: "Running",
        containerStatuses: [
          running("app", { ready: false, state: { waiting: { reason: "ImagePullBackOff" } } }),
          running("log", { ready: false, state: { waiting: { reason: "CrashLoopBackOff" } } }),
        ],
      }),
      ["web", "0/2", "ImagePullBackOff", "0", "10m"],
    ],
    [
      "a completed pod",
      pod({}, {
        phase: "Succeeded",
        containerStatuses: [running("app", { ready: false, state: { terminated: { exitCode: 0, reason: "Completed" } } })],
      }),
      ["web", "0/1", "Completed", "0", "10m"],
    ],
    [
      "a pod killed by a signal without a reason",
      pod({}, { phase: "Failed", containerStatuses: [running("app", { ready: false, state: { terminated: { exitCode: 137, signal: 9 } } })] }),
      ["web", "0/1", "Signal:9", "0", "10m"],
    ],
    [
      "a pod whose container exited without a reason",
      pod({}, { phase: "Failed", containerStatuses: [running("app", { ready: false, state: { terminated: { exitCode: 3 } } })] }),
      ["web", "0/1", "ExitCode:3", "0", "10m"],
    ],
    [
      "an evicted pod",
      pod({}, { phase: "Failed", reason: "Evicted" }),
      ["web", "0/1", "Evicted", "0", "10m"],
    ],
    [
      "a terminating pod",
      pod({}, { phase: "Running", containerStatuses: [running("app")] }, { deletionTimestamp: ago(5 * s) }),
      ["web", "1/1", "Terminating", "0", "10m"],
    ],
    [
      "a succeeded pod being deleted, which stays Completed",
      pod(
        {},
        { phase: "Succeeded", containerStatuses: [running("app", { ready: false, state: { terminated: { exitCode: 0, reason: "Completed" } } })] },
        { deletionTimestamp: ago(5 * s) },
      ),
      ["web", "0/1", "Completed", "0", "10m"],
    ],
    [
      "a pod on a lost node being deleted",
      pod({}, { phase: "Running", reason: "NodeLost", containerStatuses: [running("app")] }, { deletionTimestamp: ago(5 * s) }),
      ["web", "1/1", "Unknown", "0", "10m"],
    ],
    [
      "a pod with one finished and one running container, Ready",
      pod(two, {
        phase: "Running",
        conditions: [{ type: "Ready", status: "True" }],
        containerStatuses: [running("app", { ready: false, state: { terminated: { exitCode: 0, reason: "Completed" } } }), running("log")],
      }),
      ["web", "1/2", "Running", "0", "10m"],
    ],
    [
      "a pod with one finished and one running container, not Ready",
      pod(two, {
        phase: "Running",
        conditions: [{ type: "Ready", status: "False" }],
        containerStatuses: [running("app", { ready: false, state: { terminated: { exitCode: 0, reason: "Completed" } } }), running("log")],
      }),
      ["web", "1/2", "NotReady", "0", "10m"],
    ],
  ])("%s", (_, object, expected) => {
    expect(pods.cells(object, now).slice(0, 5)).toEqual(expected);
  });

  describe("init containers", () => {
    const inits = { initContainers: [{ name: "migrate" }, { name: "seed" }, { name: "warm" }] };
    const done = (name: string) => running(name, { ready: false, state: { terminated: { exitCode: 0, reason: "Completed" } } });

    it.each<[string, ContainerStatus[], unknown[]]>([
      ["the second of three running", [done("migrate"), running("seed", { ready: false })], ["web", "0/1", "Init:1/3", "0", "10m"]],
      [
        "one crash-looping, with its restarts counted",
        [
          done("migrate"),
          running("seed", {
            ready: false,
            restartCount: 2,
            state: { waiting: { reason: "CrashLoopBackOff" } },
            lastState: { terminated: { exitCode: 1, finishedAt: ago(2 * m) } },
          }),
        ],
        ["web", "0/1", "Init:CrashLoopBackOff", "2 (2m ago)", "10m"],
      ],
      ["one failed", [running("migrate", { ready: false, state: { terminated: { exitCode: 1, reason: "Error" } } })], ["web", "0/1", "Init:Error", "0", "10m"]],
      ["one exited without a reason", [running("migrate", { ready: false, state: { terminated: { exitCode: 2 } } })], ["web", "0/1", "Init:ExitCode:2", "0", "10m"]],
      ["one killed by a signal", [running("migrate", { ready: false, state: { terminated: { exitCode: 137, signal: 9 } } })], ["web", "0/1", "Init:Signal:9", "0", "10m"]],
      ["the first waiting to initialize", [running("migrate", { ready: false, state: { waiting: { reason: "PodInitializing" } } })], ["web", "0/1", "Init:0/3", "0", "10m"]],
    ])("%s", (_, initContainerStatuses, expected) => {
      const object = pod(inits, { phase: "Pending", initContainerStatuses, containerStatuses: [running("app", { ready: false, state: { waiting: { reason: "PodInitializing" } } })] });
      expect(pods.cells(object, now).slice(0, 5)).toEqual(expected);
    });

    it("counts a started sidecar as a container, and app restarts once initialized", () => {
      const object = pod(
        { initContainers: [{ name: "migrate" }, { name: "proxy", restartPolicy: "Always" }] },
        {
          phase: "Running",
          conditions: [{ type: "Initialized", status: "True" }],
          initContainerStatuses: [
            running("migrate", { restartCount: 5, ready: false, state: { terminated: { exitCode: 0, reason: "Completed" } } }),
            running("proxy", { started: true, restartCount: 1, lastState: { terminated: { exitCode: 1, finishedAt: ago(8 * m) } } }),
          ],
          containerStatuses: [running("app", { restartCount: 2, lastState: { terminated: { exitCode: 1, finishedAt: ago(3 * m) } } })],
        },
      );
      expect(pods.cells(object, now).slice(0, 5)).toEqual(["web", "2/2", "Running", "3 (3m ago)", "10m"]);
    });
  });

  it("fills the wide columns", () => {
    const object = pod(
      { nodeName: "node-1", readinessGates: [{ conditionType: "lb/ready" }, { conditionType: "mesh/ready" }] },
      {
        phase: "Running",
        podIP: "10.0.0.5",
        podIPs: [{ ip: "10.0.0.5" }, { ip: "fd00::5" }],
        nominatedNodeName: "node-2",
        conditions: [
          { type: "lb/ready", status: "True" },
          { type: "mesh/ready", status: "False" },
        ],
        containerStatuses: [running("app")],
      },
    );
    expect(pods.cells(object, now)).toEqual(["web", "1/1", "Running", "0", "10m", "10.0.0.5", "node-1", "node-2", "1/2"]);
    expect(pods.cells(pod({}, { phase: "Pending" }), now).slice(5)).toEqual(["<none>", "<none>", "<none>", "<none>"]);
    expect(pods.cells(pod({}, { phase: "Running", podIPs: [{ ip: "fd00::7" }] }), now)[5]).toBe("fd00::7");
  });

  it("marks finished pods' rows Completed", () => {
    expect(pods.conditions?.(pod({}, { phase: "Succeeded" }))).toMatchObject([{ type: "Completed", status: "True", reason: "Succeeded" }]);
    expect(pods.conditions?.(pod({}, { phase: "Failed" }))).toMatchObject([{ type: "Completed", status: "True", reason: "Failed" }]);
    expect(pods.conditions?.(pod({}, { phase: "Running" }))).toBeUndefined();
  });

  it("prints <unknown> for a pod without a creation time", () => {
    expect(pods.cells({ metadata: { name: "bare" } }, now)).toEqual(["bare", "0/0", "", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>"]);
  });
});

describe("Node", () => {
  const nodes = printer<Node>("/Node");
  const info = {
    kubeletVersion: "v1.30.2",
    osImage: "Ubuntu 22.04.4 LTS",
    kernelVersion: "6.5.0-1022",
    containerRuntimeVersion: "containerd://1.7.18",
    architecture: "amd64",
    bootID: "",
    kubeProxyVersion: "",
    machineID: "",
    operatingSystem: "linux",
    systemUUID: "",
  };

  it.each<[string, Node, unknown[]]>([
    [
      "a ready control-plane node",
      {
        metadata: meta("cp-1", { labels: { "node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux" } }),
        status: {
          conditions: [{ type: "Ready", status: "True" }],
          addresses: [
            { type: "Hostname", address: "cp-1" },
            { type: "InternalIP", address: "10.1.0.10" },
            { type: "ExternalIP", address: "203.0.113.10" },
          ],
          nodeInfo: info,
        },
      },
      ["cp-1", "Ready", "control-plane", "10m", "v1.30.2", "10.1.0.10", "203.0.113.10", "Ubuntu 22.04.4 LTS", "6.5.0-1022", "containerd://1.7.18"],
    ],
    [
      "a cordoned node that is not ready, with two roles",
      {
        metadata: meta("w-1", { labels: { "node-role.kubernetes.io/worker": "", "kubernetes.io/role": "gpu", "node-role.kubernetes.io/": "x" } }),
        spec: { unschedulable: true },
        status: { conditions: [{ type: "MemoryPressure", status: "False" }, { type: "Ready", status: "Unknown" }], nodeInfo: info },
      },
      ["w-1", "NotReady,SchedulingDisabled", "gpu,worker", "10m", "v1.30.2", "<none>", "<none>", "Ubuntu 22.04.4 LTS", "6.5.0-1022", "containerd://1.7.18"],
    ],
    [
      "a node that has not reported yet",
      { metadata: meta("new-1") },
      ["new-1", "Unknown", "<none>", "10m", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"],
    ],
  ])("%s", (_, object, expected) => {
    expect(nodes.cells(object, now)).toEqual(expected);
  });
});

describe("Namespace", () => {
  it.each<[Namespace, unknown[]]>([
    [{ metadata: meta("shop", { creationTimestamp: ago(3 * d + 4 * h) }), status: { phase: "Active" } }, ["shop", "Active", "3d4h"]],
    [{ metadata: meta("old", { deletionTimestamp: ago(s) }), status: { phase: "Terminating" } }, ["old", "Terminating", "10m"]],
    [{ metadata: meta("fresh") }, ["fresh", "Active", "10m"]],
  ])("%j", (object, expected) => {
    expect(printer<Namespace>("/Namespace").cells(object, now)).toEqual(expected);
  });
});

describe("Service", () => {
  const services = printer<Service>("/Service");
  it.each<[string, Service, unknown[]]>([
    [
      "a ClusterIP service",
      { metadata: meta("api"), spec: { type: "ClusterIP", clusterIP: "10.96.0.20", clusterIPs: ["10.96.0.20"], ports: [{ port: 443, protocol: "TCP" }], selector: { app: "api", tier: "back" } } },
      ["api", "ClusterIP", "10.96.0.20", "<none>", "443/TCP", "10m", "app=api,tier=back"],
    ],
    [
      "a NodePort service",
      {
        metadata: meta("web"),
        spec: {
          type: "NodePort",
          clusterIPs: ["10.96.0.30"],
          ports: [
            { port: 80, nodePort: 30080, protocol: "TCP" },
            { port: 53, nodePort: 30053, protocol: "UDP" },
          ],
          selector: { app: "web" },
        },
      },
      ["web", "NodePort", "10.96.0.30", "<none>", "80:30080/TCP,53:30053/UDP", "10m", "app=web"],
    ],
    [
      "a LoadBalancer waiting for its address",
      { metadata: meta("lb"), spec: { type: "LoadBalancer", clusterIPs: ["10.96.0.40"], ports: [{ port: 80, nodePort: 31000 }] } },
      ["lb", "LoadBalancer", "10.96.0.40", "<pending>", "80:31000/TCP", "10m", "<none>"],
    ],
    [
      "a LoadBalancer with ingress points and external IPs",
      {
        metadata: meta("lb"),
        spec: { type: "LoadBalancer", clusterIPs: ["10.96.0.40"], externalIPs: ["192.0.2.9"], ports: [{ port: 80, nodePort: 31000, protocol: "TCP" }] },
        status: { loadBalancer: { ingress: [{ ip: "198.51.100.7" }, { hostname: "lb.example.com" }, { ip: "198.51.100.7" }] } },
      },
      ["lb", "LoadBalancer", "10.96.0.40", "198.51.100.7,lb.example.com,192.0.2.9", "80:31000/TCP", "10m", "<none>"],
    ],
    [
      "an ExternalName service",
      { metadata: meta("db"), spec: { type: "ExternalName", externalName: "db.example.com" } },
      ["db", "ExternalName", "<none>", "db.example.com", "<none>", "10m", "<none>"],
    ],
    [
      "a headless service with external IPs",
      { metadata: meta("peers"), spec: { clusterIP: "None", clusterIPs: ["None"], externalIPs: ["192.0.2.1", "192.0.2.2"], ports: [{ port: 7000 }] } },
      ["peers", "ClusterIP", "None", "192.0.2.1,192.0.2.2", "7000/TCP", "10m", "<none>"],
    ],
  ])("%s", (_, object, expected) => {
    expect(services.cells(object, now)).toEqual(expected);
  });
});

describe("Endpoints", () => {
  const endpoints = printer<Endpoints>("/Endpoints");
  it.each<[string, Endpoints, string]>([
    [
      "shows three addresses and counts the rest",
      {
        metadata: meta("web"),
        subsets: [
          {
            addresses: [{ ip: "10.0.0.1" }, { ip: "10.0.0.2" }],
            notReadyAddresses: [{ ip: "10.0.0.9" }],
            ports: [{ port: 80 }, { port: 443 }],
          },
        ],
      },
      "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
    ],
    ["brackets IPv6 addresses", { metadata: meta("v6"), subsets: [{ addresses: [{ ip: "fd00::1" }], ports: [{ port: 8080 }] }] }, "[fd00::1]:8080"],
    ["lists bare IPs for a subset without ports", { metadata: meta("headless"), subsets: [{ addresses: [{ ip: "10.0.0.3" }] }] }, "10.0.0.3"],
    ["prints nothing for subsets with no ready address", { metadata: meta("down"), subsets: [{ notReadyAddresses: [{ ip: "10.0.0.4" }], ports: [{ port: 80 }] }] }, ""],
    ["prints <none> without subsets", { metadata: meta("empty") }, "<none>"],
  ])("%s", (_, object, expected) => {
    expect(endpoints.cells(object, now)).toEqual([object.metadata?.name, expected, "10m"]);
  });
});

describe("config and credentials", () => {
  it("counts a config map's text and binary keys", () => {
    const cm: ConfigMap = { metadata: meta("settings"), data: { a: "1", b: "2" }, binaryData: { c: "AA==" } };
    expect(printer<ConfigMap>("/ConfigMap").cells(cm, now)).toEqual(["settings", 3, "10m"]);
    expect(printer<ConfigMap>("/ConfigMap").cells({ metadata: meta("empty") }, now)).toEqual(["empty", 0, "10m"]);
  });

  it.each<[Secret, unknown[]]>([
    [{ metadata: meta("tls"), type: "kubernetes.io/tls", data: { "tls.crt": "", "tls.key": "" } }, ["tls", "kubernetes.io/tls", 2, "10m"]],
    [{ metadata: meta("plain") }, ["plain", "Opaque", 0, "10m"]],
  ])("secret %#", (object, expected) => {
    expect(printer<Secret>("/Secret").cells(object, now)).toEqual(expected);
  });

  it("counts a service account's listed secrets", () => {
    const sas = printer<ServiceAccount>("/ServiceAccount");
    expect(sas.cells({ metadata: meta("default") }, now)).toEqual(["default", 0, "10m"]);
    expect(sas.cells({ metadata: meta("builder"), secrets: [{ name: "builder-token" }] }, now)).toEqual(["builder", 1, "10m"]);
  });
});

describe("Event", () => {
  const events = printer<Event>("/Event");
  it.each<[string, Event, unknown[]]>([
    [
      "a repeated kubelet warning",
      {
        metadata: meta("web.17c9a2b3"),
        involvedObject: { kind: "Pod", name: "web", fieldPath: "spec.containers{app}" },
        type: "Warning",
        reason: "BackOff",
        message: "Back-off restarting failed container app\n",
        firstTimestamp: ago(10 * m),
        lastTimestamp: ago(2 * m),
        count: 7,
        source: { component: "kubelet", host: "node-1" },
      },
      ["2m", "Warning", "BackOff", "pod/web", "spec.containers{app}", "kubelet, node-1", "Back-off restarting failed container app", "10m", 7, "web.17c9a2b3"],
    ],
    [
      "a single event with only an event time",
      {
        metadata: meta("web.1"),
        involvedObject: { kind: "Deployment", name: "web" },
        type: "Normal",
        reason: "ScalingReplicaSet",
        message: "Scaled up replica set web-5d4f to 3",
        eventTime: "2024-05-01T11:59:15.123456Z",
        reportingComponent: "deployment-controller",
      },
      ["44s", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller", "Scaled up replica set web-5d4f to 3", "44s", 1, "web.1"],
    ],
    [
      "an event series",
      {
        metadata: meta("node.2"),
        involvedObject: { kind: "Node" },
        type: "Normal",
        reason: "Heartbeat",
        eventTime: ago(h),
        series: { count: 12, lastObservedTime: ago(90 * s) },
        reportingComponent: "kubelet",
        reportingInstance: "node-1",
      },
      ["90s", "Normal", "Heartbeat", "node", "", "kubelet, node-1", "", "60m", 12, "node.2"],
    ],
  ])("%s", (_, object, expected) => {
    expect(events.cells(object, now)).toEqual(expected);
  });
});

describe("pod templates, controllers and quotas", () => {
  it("prints a pod template's containers and labels", () => {
    const template: PodTemplate = {
      metadata: meta("tpl"),
      template: { metadata: { labels: { run: "x", app: "y" } }, spec: { containers: [{ name: "a", image: "a:1" }, { name: "b", image: "b:2" }] } },
    };
    expect(printer<PodTemplate>("/PodTemplate").cells(template, now)).toEqual(["tpl", "a,b", "a:1,b:2", "app=y,run=x"]);
  });

  it("prints a replication controller", () => {
    const rc: ReplicationController = {
      metadata: meta("legacy"),
      spec: { replicas: 3, selector: { app: "legacy" }, template: { spec: { containers: [{ name: "app", image: "legacy:2" }] } } },
      status: { replicas: 3, readyReplicas: 2 },
    };
    expect(printer<ReplicationController>("/ReplicationController").cells(rc, now)).toEqual(["legacy", 3, 3, 2, "10m", "app", "legacy:2", "app=legacy"]);
    expect(printer<ReplicationController>("/ReplicationController").cells({ metadata: meta("bare") }, now)).toEqual(["bare", 1, 0, 0, "10m", "", "", "<none>"]);
  });

  it("prints quota usage, requests and limits apart", () => {
    const quota: ResourceQuota = {
      metadata: meta("compute"),
      status: {
        hard: { "requests.cpu": "2", pods: "10", "limits.memory": "4Gi", "limits.cpu": "4", "requests.memory": "2Gi" },
        used: { "requests.cpu": "500m", pods: "3", "limits.cpu": "1", "requests.memory": "512Mi" },
      },
    };
    expect(printer<ResourceQuota>("/ResourceQuota").cells(quota, now)).toEqual([
      "compute",
      "pods: 3/10, requests.cpu: 500m/2, requests.memory: 512Mi/2Gi",
      "limits.cpu: 1/4, limits.memory: 0/4Gi",
      "10m",
    ]);
  });
});

describe("PersistentVolumeClaim", () => {
  const claims = printer<PersistentVolumeClaim>("/PersistentVolumeClaim");
  it.each<[string, PersistentVolumeClaim, unknown[]]>([
    [
      "a bound claim",
      {
        metadata: meta("data"),
        spec: { volumeName: "pv-1", storageClassName: "standard", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        status: { phase: "Bound", capacity: { storage: "5Gi" }, accessModes: ["ReadWriteMany", "ReadWriteOnce"] },
      },
      ["data", "Bound", "pv-1", "5Gi", "RWO,RWX", "standard", "<unset>", "10m", "Filesystem"],
    ],
    [
      "a pending claim with the beta class annotation",
      {
        metadata: meta("wait", { annotations: { "volume.beta.kubernetes.io/storage-class": "fast" } }),
        spec: { storageClassName: "standard", volumeMode: "Block", volumeAttributesClassName: "gold", resources: { requests: { storage: "1Gi" } } },
        status: { phase: "Pending" },
      },
      ["wait", "Pending", "", "", "", "fast", "gold", "10m", "Block"],
    ],
    [
      "a claim being deleted",
      { metadata: meta("gone", { deletionTimestamp: ago(s) }), spec: {}, status: { phase: "Bound" } },
      ["gone", "Terminating", "", "", "", "", "<unset>", "10m", "Filesystem"],
    ],
  ])("%s", (_, object, expected) => {
    expect(claims.cells(object, now)).toEqual(expected);
  });
});
