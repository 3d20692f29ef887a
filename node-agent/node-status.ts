// The Node as the kubelet registers and reports it: labels, addresses, capacity and allocatable,
// nodeInfo, and the conditions (Ready from the runtime's health, the pressure conditions, and
// NetworkUnavailable for a node whose network the agent sets up), in the kubelet's own words.
import { existsSync, readFileSync, statfsSync } from "node:fs";
import { arch, cpus, hostname, networkInterfaces, release, totalmem } from "node:os";
import type { Node, NodeAddress, NodeCondition, NodeSystemInfo } from "kubernetes-types/core/v1";
import type { RuntimeHealth, RuntimeInfo } from "./runtime/runtime.ts";

export const KUBELET_VERSION = "v1.30.0-edgeplane";
/** The kubelet's default --max-pods. */
export const MAX_PODS = 110;

/** What the kubelet reads of its host. */
export interface MachineFacts {
  hostname: string;
  internalIP: string;
  cpuCores: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
  kernelVersion: string;
  osImage: string;
  architecture: string;
  machineID: string;
  bootID: string;
}

function readOr(file: string, fallback: string): string {
  try {
    return existsSync(file) ? readFileSync(file, "utf8").trim() : fallback;
  } catch {
    return fallback;
  }
}

/** The host's first non-loopback IPv4 address (the kubelet's default node IP), else loopback. */
export function primaryIPv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === "IPv4" && !address.internal) return address.address;
  }
  return "127.0.0.1";
}

const GO_ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

export function machineFacts(stateDir: string): MachineFacts {
  const osRelease = readOr("/etc/os-release", "");
  const disk = statfsSync(existsSync(stateDir) ? stateDir : "/");
  return {
    hostname: hostname().toLowerCase(),
    internalIP: primaryIPv4(),
    cpuCores: cpus().length,
    memoryBytes: totalmem(),
    ephemeralStorageBytes: disk.blocks * disk.bsize,
    kernelVersion: release(),
    osImage: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? "Linux",
    architecture: GO_ARCH[arch()] ?? arch(),
    machineID: readOr("/etc/machine-id", ""),
    bootID: readOr("/proc/sys/kernel/random/boot_id", ""),
  };
}

/** The kubelet's default hard eviction thresholds: memory.available<100Mi, nodefs.available<10%. */
const MEMORY_EVICTION_BYTES = 100 * 1024 * 1024;

function kibibytes(bytes: number): string {
  return `${Math.floor(bytes / 1024)}Ki`;
}

/** The Node object the agent creates when it registers (status included; the create keeps it). */
export function registrationNode(name: string, facts: MachineFacts, runtime: RuntimeInfo, extraLabels: Record<string, string> = {}): Node {
  const addresses: NodeAddress[] = [{ type: "InternalIP", address: facts.internalIP }, { type: "Hostname", address: name }];
  const nodeInfo: NodeSystemInfo = {
    machineID: facts.machineID, systemUUID: facts.machineID, bootID: facts.bootID,
    kernelVersion: facts.kernelVersion, osImage: facts.osImage,
    containerRuntimeVersion: `${runtime.runtimeName}://${runtime.runtimeVersion}`,
    kubeletVersion: KUBELET_VERSION, kubeProxyVersion: KUBELET_VERSION,
    operatingSystem: "linux", architecture: facts.architecture,
  };
  return {
    apiVersion: "v1", kind: "Node",
    metadata: {
      name,
      labels: {
        "beta.kubernetes.io/arch": facts.architecture, "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": facts.architecture, "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
        ...extraLabels,
      },
      annotations: { "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true" },
    },
    spec: {},
    status: {
      addresses,
      capacity: {
        cpu: String(facts.cpuCores), memory: kibibytes(facts.memoryBytes),
        "ephemeral-storage": kibibytes(facts.ephemeralStorageBytes), pods: String(MAX_PODS),
      },
      allocatable: {
        cpu: String(facts.cpuCores), memory: kibibytes(Math.max(0, facts.memoryBytes - MEMORY_EVICTION_BYTES)),
        "ephemeral-storage": String(Math.floor(facts.ephemeralStorageBytes * 0.9)), pods: String(MAX_PODS),
      },
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo,
    },
  };
}

type ConditionWords = Pick<NodeCondition, "type" | "status" | "reason" | "message">;

/** Ready, in the kubelet's words: the runtime's and the network's readiness, and why not. */
export function readyCondition(health: RuntimeHealth): ConditionWords {
  if (health.runtimeReady && health.networkReady) return { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" };
  const why = health.message ?? (!health.runtimeReady ? "container runtime is down" : "container runtime network not ready");
  return { type: "Ready", status: "False", reason: "KubeletNotReady", message: why };
}

/** The conditions the kubelet owns, in its order; NetworkUnavailable only where the agent sets the network up. */
export function desiredConditions(health: RuntimeHealth, reportsNetwork: boolean): ConditionWords[] {
  const network: ConditionWords[] = reportsNetwork
    ? [health.networkReady
      ? { type: "NetworkUnavailable", status: "False", reason: "RouteCreated", message: "edgeplane-agent configured the pod network" }
      : { type: "NetworkUnavailable", status: "True", reason: "NoRouteCreated", message: "the pod network is not configured yet" }]
    : [];
  return [
    ...network,
    { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", message: "kubelet has sufficient memory available" },
    { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure", message: "kubelet has no disk pressure" },
    { type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID", message: "kubelet has sufficient PID available" },
    readyCondition(health),
  ];
}

/** Whether any condition's status, reason or message differs from what the Node says. */
export function conditionsChanged(current: NodeCondition[] | undefined, desired: ConditionWords[]): boolean {
  return desired.some((want) => {
    const have = current?.find((c) => c.type === want.type);
    return !have || have.status !== want.status || have.reason !== want.reason || have.message !== want.message;
  });
}

/** The conditions to write at `now`: heartbeat times now, transition times kept unless the status changed. */
export function stampConditions(current: NodeCondition[] | undefined, desired: ConditionWords[], now: string): NodeCondition[] {
  return desired.map((want) => {
    const have = current?.find((c) => c.type === want.type);
    const lastTransitionTime = have && have.status === want.status && have.lastTransitionTime ? have.lastTransitionTime : now;
    return { ...want, lastHeartbeatTime: now, lastTransitionTime };
  });
}
