// The ServiceAccount admission plugin: a pod runs as its namespace's "default" service account
// unless it names one, the account must exist, and (unless automounting is off) each container
// gets the projected token volume at /var/run/secrets/kubernetes.io/serviceaccount.
import { SERVICE_ACCOUNT_MOUNT_PATH as MOUNT_PATH, serviceAccountTokenVolume } from "../../lib/k8s/service-account-volume.ts";
import { apiErrors } from "../../lib/k8s/status.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { isPodWrite, type AdmissionPlugin } from "./plugin.ts";
import { serviceAccountLister } from "../registry/listers.ts";

const DEFAULT_ACCOUNT = "default";
const NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789";

function tokenVolumeName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return `kube-api-access-${[...bytes].map((b) => NAME_CHARS[b % NAME_CHARS.length]).join("")}`;
}

/**
 * The account by name. The "default" one is made by the serviceaccount controller just after its
 * namespace, so it is looked for again, 10 times 100–200 ms apart, as kube's admission does.
 */
async function lookUpServiceAccount(storage: ObjectStorage, namespace: string | undefined, name: string) {
  const attempts = name === DEFAULT_ACCOUNT ? 10 : 1;
  const intervalMs = 100 + Math.floor(Math.random() * 100);
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await scheduler.wait(intervalMs);
    const found = await serviceAccountLister(storage, namespace, name);
    if (found) return found;
  }
  return undefined;
}

export const serviceAccount: AdmissionPlugin = {
  name: "ServiceAccount",
  async mutate(a) {
    if (a.operation !== "CREATE" || !isPodWrite(a) || !a.object) return;
    const pod = a.object;
    const spec = (pod.spec ??= {});
    // Mirror pods (made by a kubelet from files) keep no service account.
    if (pod.metadata?.annotations?.["kubernetes.io/config.mirror"]) return;
    spec.serviceAccountName ||= DEFAULT_ACCOUNT;
    spec.serviceAccount = spec.serviceAccountName;
    const stored = await lookUpServiceAccount(new ObjectStorage(a.env), a.namespace, spec.serviceAccountName);
    if (!stored) {
      throw apiErrors.forbidden(`pods "${pod.metadata?.name ?? ""}" is forbidden: error looking up service account ${a.namespace}/${spec.serviceAccountName}: serviceaccount "${spec.serviceAccountName}" not found`);
    }
    const automount = spec.automountServiceAccountToken ?? stored.automountServiceAccountToken ?? true;
    if (!automount) return;
    const containers: Record<string, any>[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
    if (containers.some((c) => (c.volumeMounts ?? []).some((m: any) => m.mountPath === MOUNT_PATH))) return;
    const name = tokenVolumeName();
    spec.volumes = [...(spec.volumes ?? []), serviceAccountTokenVolume(name)];
    for (const container of containers) container.volumeMounts = [...(container.volumeMounts ?? []), { name, readOnly: true, mountPath: MOUNT_PATH }];
  },
};
