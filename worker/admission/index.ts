// Admission: every write passes a chain of plugins in Kubernetes' order, mutating ones first (after
// defaulting), then the object's own validation, then validating ones, just before the store
// write. A plugin refuses by throwing an ApiError; what a plugin charged (quota) is given back when
// the write then fails.
import type { UserInfo } from "../context.ts";
import type { AdmissionHooks, KubeObject, ResourceDefinition } from "../registry/types.ts";
import type { AdmissionAttributes, AdmissionPlugin, Operation } from "./plugin.ts";
import { limitRanger } from "./limit-ranger.ts";
import { validatingAdmissionPolicy } from "./validating-admission-policy.ts";
import { mutatingAdmissionWebhook, validatingAdmissionWebhook } from "./webhooks.ts";
import { nodeRestriction } from "./node-restriction.ts";
import { defaultTolerationSeconds, priority } from "./pod-defaults.ts";
import { defaultStorageClass } from "./default-storage-class.ts";
import { storageObjectInUseProtection } from "./storage-object-in-use-protection.ts";
import { podSecurity } from "./pod-security-admission.ts";
import { rbacEscalation } from "./rbac-escalation.ts";
import { resourceQuota } from "./resource-quota.ts";
import { serviceAccount } from "./service-account.ts";

/**
 * Kubernetes' order: RBAC escalation prevention (kube's RBAC storage checks it first), then the
 * plugins: NamespaceLifecycle (in the store), LimitRanger, ServiceAccount, NodeRestriction, Priority,
 * DefaultTolerationSeconds, DefaultStorageClass, StorageObjectInUseProtection, PodSecurity, MutatingAdmissionWebhook, ValidatingAdmissionPolicy,
 * ValidatingAdmissionWebhook, ResourceQuota.
 */
const PLUGINS: AdmissionPlugin[] = [
  rbacEscalation, limitRanger, serviceAccount, nodeRestriction, priority, defaultTolerationSeconds, defaultStorageClass, storageObjectInUseProtection, podSecurity,
  mutatingAdmissionWebhook, validatingAdmissionPolicy, validatingAdmissionWebhook, resourceQuota,
];

/** One request's pass through the chain. */
export class Admission implements AdmissionHooks {
  readonly warnings: string[] = [];
  private readonly reads = new Map<string, Promise<unknown>>();
  private readonly charged: { plugin: AdmissionPlugin; attributes: AdmissionAttributes }[] = [];

  constructor(private readonly base: { env: Env; user: UserInfo; def: ResourceDefinition; namespace?: string; subresource?: string; dryRun: boolean }) {}

  private attributes(operation: Operation, object: KubeObject | undefined, old: KubeObject | undefined): AdmissionAttributes {
    return { ...this.base, operation, object, oldObject: old, warnings: this.warnings, reads: this.reads };
  }

  async mutate(operation: Operation, object: KubeObject | undefined, old: KubeObject | undefined): Promise<void> {
    const attributes = this.attributes(operation, object, old);
    for (const plugin of PLUGINS) await plugin.mutate?.(attributes);
  }

  async validate(operation: Operation, object: KubeObject | undefined, old: KubeObject | undefined): Promise<void> {
    const attributes = this.attributes(operation, object, old);
    for (const plugin of PLUGINS) {
      if (!plugin.validate) continue;
      await plugin.validate(attributes);
      if (plugin.rollback) this.charged.push({ plugin, attributes });
    }
  }

  async deleted(object: KubeObject): Promise<void> {
    if (this.base.dryRun) return;
    const attributes = this.attributes("DELETE", undefined, object);
    for (const plugin of PLUGINS) await plugin.deleted?.(attributes);
  }

  /** The write failed: give back what was charged for it. */
  async rollback(): Promise<void> {
    for (const { plugin, attributes } of this.charged.splice(0).reverse()) await plugin.rollback!(attributes);
  }
}

export type { AdmissionAttributes, AdmissionPlugin, Operation } from "./plugin.ts";
