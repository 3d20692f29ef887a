// The local-path provisioner, as k3s runs it, in each node agent: a claim whose class is
// provisioned by edgeplane.dev/local-path and whose pod landed on this node (the binder wrote the
// node as volume.kubernetes.io/selected-node and asked this provisioner) gets a directory
// <state>/local-path/<pv-name> and a PersistentVolume for it: hostPath, node affinity to this node,
// the requested capacity, a claimRef to the claim and the class's reclaim policy. A Released volume
// of this node whose policy is Delete loses its directory (once no pod here has it as a volume),
// then its PersistentVolume. Pods reach their claims' directories through claimPath.
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import type { PersistentVolume, PersistentVolumeClaim } from "kubernetes-types/core/v1";
import type { StorageClass } from "kubernetes-types/storage/v1";
import { Informer, isAlreadyExists, isNotFound, type ApiClient, type ResourceClient } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { ANN_PROVISIONED_BY, ANN_SELECTED_NODE, ANN_STORAGE_PROVISIONER, LOCAL_PATH_NODE_LABEL, LOCAL_PATH_PROVISIONER } from "../../lib/k8s/storage.ts";

const HOSTNAME_LABEL = "kubernetes.io/hostname";
const DELETE_RETRY_MS = 5_000;

/** Where a node's local-path volumes live. */
export function localPathRoot(stateDir: string): string {
  return join(stateDir, "local-path");
}

/** Whether this node should make the claim's volume now. */
export function shouldProvision(claim: PersistentVolumeClaim, nodeName: string): boolean {
  const annotations = claim.metadata?.annotations ?? {};
  return annotations[ANN_SELECTED_NODE] === nodeName && annotations[ANN_STORAGE_PROVISIONER] === LOCAL_PATH_PROVISIONER
    && !claim.spec?.volumeName && !claim.metadata?.deletionTimestamp;
}

/** The volume this node makes for a claim (named as external provisioners name theirs: pvc-<claim uid>). */
export function localPathVolume(claim: PersistentVolumeClaim, storageClass: StorageClass | undefined, nodeName: string, stateDir: string): PersistentVolume {
  const name = `pvc-${claim.metadata!.uid}`;
  return {
    apiVersion: "v1", kind: "PersistentVolume",
    metadata: { name, labels: { [LOCAL_PATH_NODE_LABEL]: nodeName }, annotations: { [ANN_PROVISIONED_BY]: LOCAL_PATH_PROVISIONER } },
    spec: {
      capacity: { storage: claim.spec?.resources?.requests?.storage ?? "0" },
      accessModes: claim.spec?.accessModes ?? ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: storageClass?.reclaimPolicy ?? "Delete",
      storageClassName: claim.spec?.storageClassName ?? "",
      volumeMode: claim.spec?.volumeMode ?? "Filesystem",
      hostPath: { path: join(localPathRoot(stateDir), name), type: "DirectoryOrCreate" },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: HOSTNAME_LABEL, operator: "In", values: [nodeName] }] }] } },
      claimRef: {
        apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: claim.metadata!.namespace!, name: claim.metadata!.name!,
        uid: claim.metadata!.uid!, resourceVersion: claim.metadata!.resourceVersion!,
      },
    },
  };
}

/** Whether this node should delete the volume and its directory now. */
export function shouldDelete(volume: PersistentVolume, nodeName: string): boolean {
  return volume.status?.phase === "Released" && volume.spec?.persistentVolumeReclaimPolicy === "Delete"
    && volume.metadata?.annotations?.[ANN_PROVISIONED_BY] === LOCAL_PATH_PROVISIONER && volume.metadata?.labels?.[LOCAL_PATH_NODE_LABEL] === nodeName;
}

/** The volume's directory, only if it lies under this node's local-path root (nothing else is removed). */
export function ownedDirectory(volume: PersistentVolume, stateDir: string): string | undefined {
  const path = volume.spec?.hostPath?.path;
  const root = resolve(localPathRoot(stateDir));
  return path && resolve(path).startsWith(root + sep) ? resolve(path) : undefined;
}

export interface LocalPathOptions {
  client: ApiClient;
  nodeName: string;
  stateDir: string;
  log(message: string): void;
  /** Whether a pod on this node still has this directory as a volume (its deletion waits until none has). */
  pathInUse(path: string): boolean;
}

export class LocalPathProvisioner {
  private readonly options: LocalPathOptions;
  private readonly claims: ResourceClient<PersistentVolumeClaim>;
  private readonly volumes: ResourceClient<PersistentVolume>;
  private readonly classes: ResourceClient<StorageClass>;
  private readonly informer: Informer<PersistentVolume>;
  private readonly deleting = new Set<string>();
  private signal: AbortSignal | undefined;
  private watching = false;

  constructor(options: LocalPathOptions) {
    this.options = options;
    this.claims = options.client.resource<PersistentVolumeClaim>(builtin("v1", "persistentvolumeclaims"));
    this.volumes = options.client.resource<PersistentVolume>(builtin("v1", "persistentvolumes"));
    this.classes = options.client.resource<StorageClass>(builtin("storage.k8s.io/v1", "storageclasses"));
    this.informer = new Informer(this.volumes, { labelSelector: `${LOCAL_PATH_NODE_LABEL}=${options.nodeName}` });
    const consider = (volume: PersistentVolume) => void (shouldDelete(volume, options.nodeName) && this.delete(volume));
    this.informer.addEventHandler({ onAdd: consider, onUpdate: (_old, volume) => consider(volume) });
  }

  /**
   * Watches this node's volumes until `signal` aborts, deleting those released under a Delete
   * policy. A node with none (most hollow nodes) opens no watch until it provisions one.
   */
  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    const selector = { labelSelector: `${LOCAL_PATH_NODE_LABEL}=${this.options.nodeName}`, limit: 1 };
    const existing = await this.volumes.list(undefined, selector).then((list) => list.items.length > 0, () => true);
    if (existing) this.watch();
  }

  private watch(): void {
    if (this.watching || !this.signal || this.signal.aborted) return;
    this.watching = true;
    void this.informer.run(this.signal);
  }

  /**
   * The host directory of a pod's claim once it is bound; until then it throws (the pod waits and
   * tries again), and a claim that is this node's to provision gets its volume first.
   */
  async claimPath(namespace: string, claimName: string): Promise<string> {
    const claim = await this.claims.get(namespace, claimName).catch((e) => {
      throw isNotFound(e) ? new Error(`persistentvolumeclaim "${claimName}" not found`) : e;
    });
    const volumeName = claim.spec?.volumeName;
    if (claim.status?.phase === "Bound" && volumeName) {
      const volume = await this.volumes.get(undefined, volumeName);
      const path = volume.spec?.hostPath?.path ?? volume.spec?.local?.path;
      if (!path) throw new Error(`persistentvolume "${volumeName}": only hostPath and local persistent volumes are supported by this node`);
      mkdirSync(path, { recursive: true });
      return path;
    }
    if (shouldProvision(claim, this.options.nodeName)) await this.provision(claim);
    throw new Error(`persistentvolumeclaim "${claimName}" is not bound yet`);
  }

  private async provision(claim: PersistentVolumeClaim): Promise<void> {
    const className = claim.spec?.storageClassName ?? "";
    const storageClass = className ? await this.classes.get(undefined, className).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e))) : undefined;
    const volume = localPathVolume(claim, storageClass, this.options.nodeName, this.options.stateDir);
    mkdirSync(volume.spec!.hostPath!.path, { recursive: true, mode: 0o777 });
    this.watch();
    try {
      await this.volumes.create(undefined, volume);
      this.options.log(`provisioned ${volume.metadata!.name} for ${claim.metadata!.namespace}/${claim.metadata!.name} at ${volume.spec!.hostPath!.path}`);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }

  private async delete(volume: PersistentVolume): Promise<void> {
    const name = volume.metadata!.name!;
    if (this.deleting.has(name)) return;
    this.deleting.add(name);
    try {
      const dir = ownedDirectory(volume, this.options.stateDir);
      if (dir && this.options.pathInUse(dir)) throw new Error(`${dir} is still a volume of a pod on this node`);
      if (dir) rmSync(dir, { recursive: true, force: true });
      await this.volumes.delete(undefined, name, { preconditions: { uid: volume.metadata!.uid! } }).catch((e) => {
        if (!isNotFound(e)) throw e;
      });
      this.options.log(`deleted ${name} and its directory (reclaim policy Delete)`);
    } catch (e) {
      this.options.log(`deleting ${name}: ${(e as Error).message} (retrying in ${DELETE_RETRY_MS} ms)`);
      setTimeout(() => {
        const current = this.informer.lister.get(undefined, name);
        if (current && shouldDelete(current, this.options.nodeName)) void this.delete(current);
      }, DELETE_RETRY_MS).unref();
    } finally {
      this.deleting.delete(name);
    }
  }
}
