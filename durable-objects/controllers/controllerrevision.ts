// ControllerRevisions as the DaemonSet and StatefulSet controllers keep them (pkg/controller/history):
// one per distinct pod template, named `<owner>-<hash>`, holding the patch that restores the
// template (what `kubectl rollout undo` applies), numbered by `revision`, the newest reused when the
// template returns to an earlier one, and the oldest unused beyond revisionHistoryLimit deleted.
import type { ControllerRevision } from "kubernetes-types/apps/v1";
import type { PodTemplateSpec } from "kubernetes-types/core/v1";
import type { KubeObject } from "../../lib/client/index.ts";
import { isAlreadyExists, isNotFound } from "../../lib/client/api-client.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { podTemplateHash } from "./deployment.ts";
import { controllerRefOf, type ReconcileContext } from "./framework.ts";
import { controllerRefTo } from "./replicaset.ts";

export const CONTROLLER_REVISIONS = builtin("apps/v1", "controllerrevisions");

/** The pod label naming the revision a pod was made from. */
export const CONTROLLER_REVISION_HASH = "controller-revision-hash";

/** The owner of revisions: a DaemonSet or a StatefulSet. */
export interface RevisionOwner extends KubeObject {
  spec?: { template?: PodTemplateSpec; revisionHistoryLimit?: number };
  status?: { collisionCount?: number };
}

/** The revision's data: a strategic merge patch that replaces the owner's template (getPatch). */
export function revisionData(template: PodTemplateSpec | undefined): { spec: { template: Record<string, unknown> } } {
  return { spec: { template: { ...(structuredClone(template ?? {}) as Record<string, unknown>), $patch: "replace" } } };
}

/** The hash that names a template's revision and labels its pods. */
export function revisionHash(template: PodTemplateSpec | undefined, collisionCount?: number): string {
  return podTemplateHash(template, collisionCount);
}

/** The pod template a revision restores. */
export function templateOf(revision: ControllerRevision): PodTemplateSpec | undefined {
  const template = structuredClone((revision.data as { spec?: { template?: Record<string, unknown> } } | undefined)?.spec?.template);
  if (template) delete template.$patch;
  return template as PodTemplateSpec | undefined;
}

/** history.EqualRevision: the same template, whatever order its keys were stored in. */
function sameData(revision: ControllerRevision, template: PodTemplateSpec | undefined): boolean {
  return revisionHash(templateOf(revision)) === revisionHash(template);
}

export const byRevision = (a: ControllerRevision, b: ControllerRevision) => (a.revision ?? 0) - (b.revision ?? 0) || (a.metadata!.name! < b.metadata!.name! ? -1 : 1);

/** The owner's revisions (those it controls), oldest first. */
export function ownedRevisions(owner: RevisionOwner, ctx: ReconcileContext): ControllerRevision[] {
  const uid = owner.metadata!.uid;
  return ctx.listers.of<ControllerRevision>(CONTROLLER_REVISIONS).list(owner.metadata!.namespace)
    .filter((r) => controllerRefOf(r)?.uid === uid).sort(byRevision);
}

/**
 * The revision of the owner's current template: an existing one with the same data (renumbered to
 * the newest if it is not), or a new one numbered after the newest. Answers it with the hash its
 * pods carry.
 */
export async function currentRevision(owner: RevisionOwner, kind: string, hashLabel: string, revisions: ControllerRevision[], ctx: ReconcileContext): Promise<{ revision: ControllerRevision; hash: string }> {
  const client = ctx.client.resource<ControllerRevision>(CONTROLLER_REVISIONS);
  const namespace = owner.metadata!.namespace!;
  const template = owner.spec?.template;
  const next = Math.max(0, ...revisions.map((r) => r.revision ?? 0)) + 1;
  const equal = revisions.filter((r) => sameData(r, template));
  const existing = equal[equal.length - 1];
  if (existing) {
    const hash = existing.metadata?.labels?.[hashLabel] ?? existing.metadata!.name!.slice(owner.metadata!.name!.length + 1);
    if (existing === revisions[revisions.length - 1]) return { revision: existing, hash };
    const renumbered = await client.update(namespace, { ...existing, revision: next });
    return { revision: renumbered, hash };
  }
  const hash = revisionHash(template, owner.status?.collisionCount);
  const revision: ControllerRevision = {
    apiVersion: "apps/v1", kind: "ControllerRevision",
    metadata: {
      name: `${owner.metadata!.name}-${hash}`,
      namespace,
      labels: { ...(template?.metadata?.labels ?? {}), [hashLabel]: hash },
      ...(owner.metadata?.annotations ? { annotations: { ...owner.metadata.annotations } } : {}),
      ownerReferences: [controllerRefTo(owner, "apps/v1", kind)],
    },
    data: revisionData(template),
    revision: next,
  };
  try {
    return { revision: await client.create(namespace, revision), hash };
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    // The name is taken: ours from an earlier sync whose write the cache has not seen, or a collision.
    const found = await client.get(namespace, revision.metadata!.name!);
    if (controllerRefOf(found)?.uid === owner.metadata!.uid && sameData(found, template)) return { revision: found, hash };
    throw new RevisionCollision();
  }
}

/** Another object holds the revision's name: the owner's status.collisionCount goes up and the next sync hashes anew. */
export class RevisionCollision extends Error {
  override name = "RevisionCollision";
}

/** Deletes the oldest revisions beyond revisionHistoryLimit that are not in use (`live`: the names of those that are). */
export async function truncateHistory(owner: RevisionOwner, revisions: ControllerRevision[], live: Set<string>, ctx: ReconcileContext): Promise<void> {
  const limit = owner.spec?.revisionHistoryLimit ?? 10;
  const unused = revisions.filter((r) => !live.has(r.metadata!.name!));
  const excess = unused.length - limit;
  if (excess <= 0) return;
  const client = ctx.client.resource<ControllerRevision>(CONTROLLER_REVISIONS);
  for (const revision of unused.slice(0, excess)) {
    await client.delete(owner.metadata!.namespace!, revision.metadata!.name!, { preconditions: { uid: revision.metadata!.uid } }).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  }
}
