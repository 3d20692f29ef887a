// A typed client for a container runtime's CRI v1 API (containerd) on its unix socket: each call
// has a deadline, and failures read as the kubelet reports them ("rpc error: code = NotFound
// desc = ...") or, when the socket does not answer, "cannot reach containerd at unix:///...".
import * as grpc from "@grpc/grpc-js";
import { criPackageDefinition } from "./api.ts";

export type Labels = Record<string, string>;
export type NamespaceMode = "POD" | "CONTAINER" | "NODE" | "TARGET";
export type Protocol = "TCP" | "UDP" | "SCTP";
export type PodSandboxState = "SANDBOX_READY" | "SANDBOX_NOTREADY";
export type ContainerStateName = "CONTAINER_CREATED" | "CONTAINER_RUNNING" | "CONTAINER_EXITED" | "CONTAINER_UNKNOWN";
export type MountPropagation = "PROPAGATION_PRIVATE" | "PROPAGATION_HOST_TO_CONTAINER" | "PROPAGATION_BIDIRECTIONAL";

export interface PodSandboxMetadata { name: string; uid: string; namespace: string; attempt: number }
export interface NamespaceOption { network?: NamespaceMode; pid?: NamespaceMode; ipc?: NamespaceMode; target_id?: string }
export interface Int64Value { value: number }
export interface UInt64Value { value: number }
export interface DNSConfig { servers: string[]; searches: string[]; options: string[] }
export interface PortMapping { protocol: Protocol; container_port: number; host_port: number; host_ip?: string }
export interface SecurityProfile { profile_type: "RuntimeDefault" | "Unconfined" | "Localhost"; localhost_ref?: string }

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  log_directory?: string;
  dns_config?: DNSConfig;
  port_mappings?: PortMapping[];
  labels?: Labels;
  annotations?: Labels;
  linux?: {
    cgroup_parent?: string;
    security_context?: {
      namespace_options?: NamespaceOption;
      run_as_user?: Int64Value;
      run_as_group?: Int64Value;
      readonly_rootfs?: boolean;
      supplemental_groups?: number[];
      privileged?: boolean;
      seccomp?: SecurityProfile;
    };
    sysctls?: Labels;
  };
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  /** Nanoseconds since the epoch. */
  created_at: number;
  labels: Labels;
  annotations: Labels;
}

export interface PodSandboxStatus extends PodSandbox {
  network: { ip: string; additional_ips: { ip: string }[] } | null;
}

export interface PodSandboxFilter { id?: string; state?: { state: PodSandboxState }; label_selector?: Labels }

export interface ImageSpec { image: string; annotations?: Labels; user_specified_image?: string }

export interface Mount {
  container_path: string;
  host_path: string;
  readonly?: boolean;
  propagation?: MountPropagation;
}

export interface LinuxContainerResources {
  cpu_period?: number;
  cpu_quota?: number;
  cpu_shares?: number;
  memory_limit_in_bytes?: number;
  oom_score_adj?: number;
}

export interface LinuxContainerSecurityContext {
  capabilities?: { add_capabilities: string[]; drop_capabilities: string[] };
  privileged?: boolean;
  namespace_options?: NamespaceOption;
  run_as_user?: Int64Value;
  run_as_group?: Int64Value;
  run_as_username?: string;
  readonly_rootfs?: boolean;
  supplemental_groups?: number[];
  no_new_privs?: boolean;
  seccomp?: SecurityProfile;
}

export interface ContainerConfig {
  metadata: { name: string; attempt: number };
  image: ImageSpec;
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: { key: string; value: string }[];
  mounts?: Mount[];
  labels?: Labels;
  annotations?: Labels;
  log_path?: string;
  stdin?: boolean;
  stdin_once?: boolean;
  tty?: boolean;
  linux?: { resources?: LinuxContainerResources; security_context?: LinuxContainerSecurityContext };
}

export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: { name: string; attempt: number };
  image: ImageSpec | null;
  image_ref: string;
  state: ContainerStateName;
  created_at: number;
  labels: Labels;
  annotations: Labels;
}

export interface ContainerFilter { id?: string; state?: { state: ContainerStateName }; pod_sandbox_id?: string; label_selector?: Labels }

export interface ContainerStatus {
  id: string;
  metadata: { name: string; attempt: number };
  state: ContainerStateName;
  /** Nanoseconds since the epoch; 0 when it has not happened. */
  created_at: number;
  started_at: number;
  finished_at: number;
  exit_code: number;
  image: ImageSpec | null;
  image_ref: string;
  reason: string;
  message: string;
  labels: Labels;
  annotations: Labels;
  mounts: Mount[];
  log_path: string;
}

export interface RuntimeCondition { type: string; status: boolean; reason: string; message: string }

export interface Image {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: number;
  uid: Int64Value | null;
  username: string;
  pinned: boolean;
}

export interface FilesystemUsage {
  timestamp: number;
  fs_id: { mountpoint: string } | null;
  used_bytes: UInt64Value | null;
  inodes_used: UInt64Value | null;
}

export interface ContainerStats {
  attributes: { id: string; metadata: { name: string; attempt: number }; labels: Labels; annotations: Labels } | null;
  cpu: { timestamp: number; usage_core_nano_seconds: UInt64Value | null; usage_nano_cores: UInt64Value | null } | null;
  memory: {
    timestamp: number; working_set_bytes: UInt64Value | null; usage_bytes: UInt64Value | null; rss_bytes: UInt64Value | null;
    page_faults: UInt64Value | null; major_page_faults: UInt64Value | null;
  } | null;
  writable_layer: FilesystemUsage | null;
}

export interface AuthConfig { username?: string; password?: string; auth?: string; server_address?: string; identity_token?: string; registry_token?: string }

/** gRPC status names as Go's codes package prints them, which is how the kubelet's messages read. */
const GO_CODE_NAMES = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"];

/** A CRI call the runtime answered with an error. */
export class CriError extends Error {
  readonly code: grpc.status;
  readonly details: string;
  readonly method: string;
  constructor(method: string, code: grpc.status, details: string) {
    super(`rpc error: code = ${GO_CODE_NAMES[code] ?? code} desc = ${details}`);
    this.name = "CriError";
    this.method = method;
    this.code = code;
    this.details = details;
  }
}

/** The runtime's socket did not answer (not running, wrong path, no permission). */
export class CriUnreachableError extends Error {
  constructor(endpoint: string, details: string) {
    super(`cannot reach containerd at ${endpoint}: ${details.replace(/\s*Resolution note:\s*$/, "")}`);
    this.name = "CriUnreachableError";
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof CriError && error.code === grpc.status.NOT_FOUND;
}

/** How long an ordinary call may take; pulls, stops and execs add their own time. */
const CALL_SECONDS = 30;
const PULL_SECONDS = 300;

type Unary = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: unknown) => void) => void;

export class CriClient {
  readonly endpoint: string;
  private readonly runtime: grpc.Client;
  private readonly images: grpc.Client;

  /** `socket` is a path ("/run/containerd/containerd.sock") or a unix:// endpoint. */
  constructor(socket: string) {
    this.endpoint = socket.startsWith("unix://") ? socket : `unix://${socket}`;
    const v1 = (grpc.loadPackageDefinition(criPackageDefinition()) as unknown as { runtime: { v1: Record<string, grpc.ServiceClientConstructor> } }).runtime.v1;
    const credentials = grpc.credentials.createInsecure();
    const options = { "grpc.max_receive_message_length": 16 * 1024 * 1024 };
    this.runtime = new v1.RuntimeService!(this.endpoint, credentials, options);
    // The image service shares the runtime service's connection.
    this.images = new v1.ImageService!(this.endpoint, credentials, { ...options, channelOverride: this.runtime.getChannel() });
  }

  private call<T>(client: grpc.Client, method: string, request: object, seconds = CALL_SECONDS): Promise<T> {
    const fn = (client as unknown as Record<string, Unary>)[method]!;
    return new Promise((resolve, reject) => {
      fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + seconds * 1000 }, (error, response) => {
        if (!error) resolve(response as T);
        else if (error.code === grpc.status.UNAVAILABLE) reject(new CriUnreachableError(this.endpoint, error.details));
        else if (error.code === grpc.status.DEADLINE_EXCEEDED && error.details.includes("Waiting for LB pick")) reject(new CriUnreachableError(this.endpoint, error.details));
        else reject(new CriError(method, error.code, error.details));
      });
    });
  }

  version(): Promise<{ version: string; runtime_name: string; runtime_version: string; runtime_api_version: string }> {
    return this.call(this.runtime, "Version", { version: "v1" });
  }

  async status(seconds = CALL_SECONDS): Promise<RuntimeCondition[]> {
    const response = await this.call<{ status: { conditions: RuntimeCondition[] } | null }>(this.runtime, "Status", {}, seconds);
    return response.status?.conditions ?? [];
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    return (await this.call<{ pod_sandbox_id: string }>(this.runtime, "RunPodSandbox", { config })).pod_sandbox_id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, "StopPodSandbox", { pod_sandbox_id: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, "RemovePodSandbox", { pod_sandbox_id: id });
  }

  async podSandboxStatus(id: string): Promise<PodSandboxStatus> {
    return (await this.call<{ status: PodSandboxStatus }>(this.runtime, "PodSandboxStatus", { pod_sandbox_id: id })).status;
  }

  async listPodSandbox(filter: PodSandboxFilter = {}): Promise<PodSandbox[]> {
    return (await this.call<{ items: PodSandbox[] }>(this.runtime, "ListPodSandbox", { filter })).items;
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const response = await this.call<{ container_id: string }>(this.runtime, "CreateContainer", { pod_sandbox_id: podSandboxId, config, sandbox_config: sandboxConfig });
    return response.container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call(this.runtime, "StartContainer", { container_id: id });
  }

  /** SIGTERM (or the image's stop signal), then SIGKILL after `timeoutSeconds`. */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.call(this.runtime, "StopContainer", { container_id: id, timeout: timeoutSeconds }, CALL_SECONDS + timeoutSeconds);
  }

  async removeContainer(id: string): Promise<void> {
    await this.call(this.runtime, "RemoveContainer", { container_id: id });
  }

  async listContainers(filter: ContainerFilter = {}): Promise<Container[]> {
    return (await this.call<{ containers: Container[] }>(this.runtime, "ListContainers", { filter })).containers;
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    return (await this.call<{ status: ContainerStatus }>(this.runtime, "ContainerStatus", { container_id: id })).status;
  }

  async execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<{ stdout: Buffer; stderr: Buffer; exit_code: number }> {
    return this.call(this.runtime, "ExecSync", { container_id: id, cmd, timeout: timeoutSeconds }, CALL_SECONDS + timeoutSeconds);
  }

  /** A URL on the runtime's streaming server where the command runs once a client connects (CRI Exec). */
  async exec(request: { container_id: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): Promise<string> {
    return (await this.call<{ url: string }>(this.runtime, "Exec", request)).url;
  }

  /** A URL on the runtime's streaming server joining a client to the container's process (CRI Attach). */
  async attach(request: { container_id: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): Promise<string> {
    return (await this.call<{ url: string }>(this.runtime, "Attach", request)).url;
  }

  async containerStats(id: string): Promise<ContainerStats> {
    return (await this.call<{ stats: ContainerStats }>(this.runtime, "ContainerStats", { container_id: id })).stats;
  }

  async listContainerStats(): Promise<ContainerStats[]> {
    return (await this.call<{ stats: ContainerStats[] }>(this.runtime, "ListContainerStats", { filter: {} })).stats;
  }

  async listImages(): Promise<Image[]> {
    return (await this.call<{ images: Image[] }>(this.images, "ListImages", { filter: {} })).images;
  }

  /** The image, or null when the runtime does not have it. */
  async imageStatus(image: string): Promise<Image | null> {
    return (await this.call<{ image: Image | null }>(this.images, "ImageStatus", { image: { image } })).image;
  }

  /** Pulls and answers the image's reference (its ID in containerd). */
  async pullImage(image: string, auth?: AuthConfig, sandboxConfig?: PodSandboxConfig): Promise<string> {
    const response = await this.call<{ image_ref: string }>(this.images, "PullImage", { image: { image }, auth, sandbox_config: sandboxConfig }, PULL_SECONDS);
    return response.image_ref;
  }

  async removeImage(image: string): Promise<void> {
    await this.call(this.images, "RemoveImage", { image: { image } });
  }

  async imageFsInfo(): Promise<FilesystemUsage[]> {
    return (await this.call<{ image_filesystems: FilesystemUsage[] }>(this.images, "ImageFsInfo", {})).image_filesystems;
  }

  close(): void {
    this.images.close();
    this.runtime.close();
  }
}
