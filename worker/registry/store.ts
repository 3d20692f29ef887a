// The one generic registry store: every resource is served by this code and its declaration.
// Object semantics follow kube-apiserver's generic registry: uid, creationTimestamp,
// generateName, generation, resourceVersion preconditions, status vs spec, finalizers.
import { kubeTime } from "../../lib/k8s/time.ts";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, SelectorError, type FieldRequirement, type LabelRequirement } from "../../lib/k8s/selectors.ts";
import { ApiError, apiErrors, type StatusCause } from "../../lib/k8s/status.ts";
import type { ObjectStorage, StoredObject } from "../storage/object-storage.ts";
import type { StoredTextFilter } from "../storage/stored-text-filter.ts";
import { resourcePrefix } from "../storage/keys.ts";
import { invalidateListers, isListedKind, namespaceLister } from "./listers.ts";
import { managedFieldsFromRequest, recordUpdate } from "./managed-fields.ts";
import { deepEqual } from "./deep-equal.ts";
import { writeWithLease } from "./object-leases.ts";
import { releaseAll } from "./services.ts";
import { validateObjectMeta } from "./validation.ts";
import { groupVersion, type AdmissionHooks, type KubeObject, type ResourceDefinition } from "./types.ts";

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface WriteOptions {
  dryRun?: boolean;
  /** status: only the status moves; finalize: only spec.finalizers (a Namespace's). */
  subresource?: "status" | "finalize";
  /** Who is writing, for metadata.managedFields. */
  manager?: string;
  /** The object carries managedFields already worked out (server-side apply). */
  keepManagedFields?: boolean;
  /** The admission chain this write passes (requests through the API have one). */
  admission?: AdmissionHooks;
}

export interface DeleteOptions {
  dryRun?: boolean;
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  preconditions?: { uid?: string; resourceVersion?: string };
  admission?: AdmissionHooks;
}

export interface Selection {
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

const NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789";

export class RegistryStore {
  constructor(
    readonly def: ResourceDefinition,
    readonly storage: ObjectStorage,
  ) {}

  get apiVersion(): string {
    return groupVersion(this.def);
  }

  /** /registry/<prefix>/ for all namespaces, /registry/<prefix>/<ns>/ for one. */
  prefix(namespace?: string): string {
    return resourcePrefix(this.def.group, this.def.resource, this.def.namespaced ? namespace : undefined);
  }

  key(namespace: string | undefined, name: string): string {
    return `${this.prefix(this.def.namespaced ? namespace : undefined)}${name}`;
  }

  /** A stored object in this resource's served version. */
  decode(object: KubeObject): KubeObject;
  decode(object: KubeObject | undefined): KubeObject | undefined;
  decode(object: KubeObject | undefined): KubeObject | undefined {
    return object && this.def.conversion ? this.def.conversion.fromStorage(object) : object;
  }

  private encode(object: KubeObject): KubeObject {
    return this.def.conversion ? this.def.conversion.toStorage(object) : object;
  }

  /** A store write of this resource; the listers' copies of it are forgotten whatever came of it. */
  private async written<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      if (isListedKind(this.def)) invalidateListers();
    }
  }

  /** A put of this resource: objects of a kind that expires are written under a lease, every write renewing their time. */
  private put<T>(write: (lease?: number) => Promise<T>): Promise<T> {
    const ttl = this.def.ttl?.(this.storage.env);
    return this.written(() => (ttl ? writeWithLease(this.storage, this.prefix(), ttl, write) : write()));
  }

  private withVersion(stored: StoredObject): KubeObject {
    const object = this.decode(stored.object);
    object.metadata = { ...object.metadata, resourceVersion: String(stored.modRevision) };
    return object;
  }

  async read(namespace: string | undefined, name: string): Promise<StoredObject> {
    const stored = await this.storage.get(this.key(namespace, name));
    if (!stored) throw apiErrors.notFound(this.def.group, this.def.resource, name);
    return stored;
  }

  async get(namespace: string | undefined, name: string): Promise<KubeObject> {
    return this.withVersion(await this.read(namespace, name));
  }

  /**
   * Every object (in one namespace, or all), read at once for code that needs them all: policy,
   * limits, quotas; `filter` leaves out, unparsed, those whose stored text it rules out.
   */
  async all(namespace?: string, filter?: StoredTextFilter): Promise<KubeObject[]> {
    const { items } = await this.storage.list(this.prefix(namespace), { filter });
    return items.map((stored) => this.withVersion(stored));
  }

  /**
   * Whether any object (in one namespace, or all) passes `test`, read `pageSize` at a time and
   * stopping at the first that does; `filter` leaves out, unparsed, those whose stored text it rules out.
   */
  async some(namespace: string | undefined, filter: StoredTextFilter, test: (object: KubeObject) => boolean, pageSize: number): Promise<boolean> {
    const prefix = this.prefix(namespace);
    for (let startKey = prefix, revision = 0; ;) {
      const page = await this.storage.list(prefix, { startKey, limit: pageSize, revision, filter });
      if (page.items.some((stored) => test(this.decode(stored.object)))) return true;
      if (!page.more || !page.items.length) return false;
      startKey = `${page.items.at(-1)!.key}\0`;
      revision = page.revision;
    }
  }

  /** The object, or undefined when there is none. */
  async find(namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    const stored = await this.storage.get(this.key(namespace, name));
    return stored && this.withVersion(stored);
  }

  // ---- list ----

  selection(query: ListQuery): Selection {
    try {
      return {
        labels: parseLabelSelector(query.labelSelector ?? ""),
        fields: parseFieldSelector(query.fieldSelector ?? ""),
      };
    } catch (e) {
      if (e instanceof SelectorError) throw apiErrors.badRequest(e.message);
      throw e;
    }
  }

  fieldsOf(object: KubeObject): Record<string, string> {
    const fields: Record<string, string> = { "metadata.name": object.metadata?.name ?? "" };
    if (this.def.namespaced) fields["metadata.namespace"] = object.metadata?.namespace ?? "";
    return { ...fields, ...this.def.selectableFields?.(object) };
  }

  matches(selection: Selection, object: KubeObject | undefined): boolean {
    if (!object) return false;
    return matchesLabels(selection.labels, object.metadata?.labels) && matchesFields(selection.fields, this.fieldsOf(object));
  }

  private checkSelectableFields(selection: Selection): void {
    const known = new Set(Object.keys(this.fieldsOf({ metadata: {} })));
    for (const f of selection.fields) {
      if (!known.has(f.field)) {
        throw apiErrors.badRequest(`field label not supported: ${f.field}`);
      }
    }
  }

  async list(namespace: string | undefined, query: ListQuery): Promise<KubeObject> {
    const selection = this.selection(query);
    this.checkSelectableFields(selection);
    const prefix = this.prefix(namespace);
    let revision = 0;
    let startKey: string | undefined;
    if (query.continue) {
      const token = decodeContinue(query.continue);
      revision = token.rv;
      startKey = prefix + token.start;
    } else if (query.resourceVersion && query.resourceVersion !== "0") {
      const rv = parseResourceVersion(query.resourceVersion);
      if (query.resourceVersionMatch === "Exact") revision = rv;
      else {
        const current = await this.storage.currentRevision(prefix);
        if (rv > current) throw apiErrors.timeout(`Too large resource version: ${rv}, current: ${current}`);
      }
    } else if (query.resourceVersionMatch === "Exact") {
      throw apiErrors.badRequest("resourceVersionMatch Exact requires a resourceVersion");
    }
    const limit = query.limit && query.limit > 0 ? query.limit : 0;
    const items: KubeObject[] = [];
    let more = false;
    let remaining = 0;
    let lastKey: string | undefined;
    // Selectors filter after reading, so a page may need several reads to fill.
    for (;;) {
      const page = await this.storage.list(prefix, { startKey, limit: limit ? limit - items.length : 0, revision }).catch((e) => {
        if (e instanceof ApiError && e.code === 410 && query.continue) {
          throw apiErrors.expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.");
        }
        throw e;
      });
      revision = page.revision;
      for (const stored of page.items) {
        lastKey = stored.key;
        // Decoded once: a conversion (or a custom resource's defaulting on read) runs per item.
        const object = this.withVersion(stored);
        if (this.matches(selection, object)) items.push(object);
      }
      more = page.more;
      remaining = page.remaining;
      if (!limit || !more || items.length >= limit) break;
      startKey = lastKey + "\u0000";
    }
    const metadata: Record<string, unknown> = { resourceVersion: String(revision) };
    if (limit && more && lastKey) {
      metadata.continue = encodeContinue(revision, lastKey.slice(prefix.length) + "\u0000");
      if (!selection.labels.length && !selection.fields.length) metadata.remainingItemCount = remaining;
    }
    return { kind: `${this.def.kind}List`, apiVersion: this.apiVersion, metadata, items };
  }

  // ---- create ----

  async create(namespace: string | undefined, input: KubeObject, options: WriteOptions = {}): Promise<KubeObject> {
    const object = this.prepareForCreate(namespace, input);
    if (options.keepManagedFields) object.metadata!.managedFields = input.metadata?.managedFields;
    else recordUpdate(object, undefined, options.manager ?? "unknown");
    await this.checkNamespace(object.metadata!.namespace, object.metadata!.name);
    if (options.admission) {
      await options.admission.mutate("CREATE", object, undefined);
      this.validate(object);
      await options.admission.validate("CREATE", object, undefined);
    }
    for (let attempt = 0; ; attempt++) {
      if (options.dryRun) {
        if (await this.storage.get(this.key(namespace, object.metadata!.name))) throw apiErrors.alreadyExists(this.def.group, this.def.resource, object.metadata!.name);
        return object;
      }
      const claimed = (await this.def.allocate?.(object, this.storage)) ?? [];
      const outcome = await this.put((lease) => this.storage.create(this.key(namespace, object.metadata!.name), this.encode(object), { lease })).catch(async (e) => {
        await releaseAll(this.storage, claimed);
        throw e;
      });
      if (outcome.ok) {
        object.metadata!.resourceVersion = String(outcome.revision);
        return object;
      }
      await releaseAll(this.storage, claimed);
      // A generated name that collided gets another try, as kube-apiserver does.
      if (!input.metadata?.name && input.metadata?.generateName && attempt < 5) {
        object.metadata!.name = generateName(input.metadata.generateName);
        continue;
      }
      throw apiErrors.alreadyExists(this.def.group, this.def.resource, object.metadata!.name);
    }
  }

  private prepareForCreate(namespace: string | undefined, input: KubeObject): KubeObject {
    this.checkKind(input);
    if (!this.def.custom) checkNoDirectives(input, "", this.def.opaque);
    const object: KubeObject = structuredClone(input);
    const metadata: Record<string, any> = (object.metadata ??= {});
    if (!metadata.name && metadata.generateName) metadata.name = generateName(metadata.generateName);
    if (this.def.namespaced) {
      if (metadata.namespace && namespace && metadata.namespace !== namespace) {
        throw apiErrors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      metadata.namespace = namespace ?? metadata.namespace;
    } else {
      delete metadata.namespace;
    }
    if (metadata.resourceVersion) {
      throw apiErrors.badRequest("resourceVersion should not be set on objects to be created");
    }
    object.apiVersion = this.apiVersion;
    object.kind = this.def.kind;
    delete metadata.managedFields;
    metadata.uid = crypto.randomUUID();
    metadata.creationTimestamp = kubeTime();
    delete metadata.deletionTimestamp;
    delete metadata.deletionGracePeriodSeconds;
    if (this.def.generation !== false) metadata.generation = 1;
    // A custom resource's status is the status subresource's alone: a create drops it, as in kube.
    if (this.def.hasStatus && this.def.custom) delete object.status;
    else if (this.def.hasStatus && object.status === undefined) object.status = {};
    this.def.defaults?.(object);
    this.validate(object);
    return object;
  }

  private checkKind(input: KubeObject): void {
    if (input === null || typeof input !== "object" || Array.isArray(input)) throw apiErrors.badRequest("the body of the request must be a JSON object");
    checkShape(input);
    if (input.kind && input.kind !== this.def.kind) {
      throw apiErrors.badRequest(`the server could not find the requested resource: ${input.kind} does not match the URL's kind ${this.def.kind}`);
    }
    if (input.apiVersion && input.apiVersion !== this.apiVersion) {
      throw apiErrors.badRequest(`the API version in the data (${input.apiVersion}) does not match the expected API version (${this.apiVersion})`);
    }
  }

  private validate(object: KubeObject, old?: KubeObject, subresource?: WriteOptions["subresource"]): void {
    const own = subresource === "status" && old && this.def.validateStatus ? this.def.validateStatus(object, old) : this.def.validate?.(object, old);
    const causes: StatusCause[] = [...validateObjectMeta(object.metadata ?? {}, this.def), ...(own ?? [])];
    if (causes.length) throw apiErrors.invalid(this.def.group, this.def.kind, object.metadata?.name ?? "", causes);
  }

  private async checkNamespace(namespace: string | undefined, name: string): Promise<void> {
    if (!this.def.namespaced) return;
    if (!namespace) throw apiErrors.badRequest("the namespace of the object must be set");
    const ns = await namespaceLister(this.storage, namespace);
    if (!ns) throw apiErrors.notFound("", "namespaces", namespace);
    if (ns.status?.phase === "Terminating" || ns.metadata?.deletionTimestamp) {
      throw apiErrors.forbidden(`${this.def.resource} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }

  // ---- update and patch ----

  /** Replaces an object (PUT), honouring a resourceVersion precondition in its metadata. */
  async update(namespace: string | undefined, name: string, input: KubeObject, options: WriteOptions = {}): Promise<KubeObject> {
    this.checkKind(input);
    if (input.metadata?.name !== name) {
      throw apiErrors.badRequest(`the name of the object (${input.metadata?.name ?? ""}) does not match the name on the URL (${name})`);
    }
    if (this.def.namespaced && input.metadata?.namespace && input.metadata.namespace !== namespace) {
      throw apiErrors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    const wanted = input.metadata?.resourceVersion;
    return this.guaranteedUpdate(namespace, name, options, (current) => {
      if (wanted && wanted !== current.metadata!.resourceVersion) throw this.staleError(name);
      return structuredClone(input);
    });
  }

  /**
   * kube's Storage.GuaranteedUpdate beneath the strategy, for a subresource whose REST writes the
   * store itself (pods/binding): `change` gets the stored object (its own copy, with its
   * resourceVersion) and answers the
   * next one, written if nothing wrote in between (else read again and retried), with no
   * defaulting, validation or managedFields of its own.
   */
  async storageUpdate(namespace: string | undefined, name: string, dryRun: boolean, change: (current: KubeObject) => KubeObject): Promise<KubeObject> {
    const key = this.key(namespace, name);
    let stored = await this.read(namespace, name);
    for (let attempt = 0; attempt < 10; attempt++) {
      const next = change(this.withVersion(stored));
      delete next.metadata!.resourceVersion;
      if (dryRun) return { ...next, metadata: { ...next.metadata, resourceVersion: String(stored.modRevision) } };
      const outcome = await this.writeOver(key, name, next, stored);
      if ("written" in outcome) return outcome.written;
      stored = outcome.current;
    }
    throw this.staleError(name);
  }

  /** Writes `next` over `stored` if nothing wrote in between: the written object, or what is stored now to retry with. */
  private async writeOver(key: string, name: string, next: KubeObject, stored: StoredObject): Promise<{ written: KubeObject } | { current: StoredObject }> {
    const outcome = await this.put((lease) => this.storage.update(key, this.encode(next), stored.modRevision, { lease }));
    if (outcome.ok) {
      next.metadata!.resourceVersion = String(outcome.revision);
      return { written: next };
    }
    if (!outcome.current) throw apiErrors.notFound(this.def.group, this.def.resource, name);
    return { current: outcome.current };
  }

  staleError(name: string): ApiError {
    return apiErrors.conflict(this.def.group, this.def.resource, name, "the object has been modified; please apply your changes to the latest version and try again");
  }

  /**
   * Reads the current object, lets `change` produce the new one, and writes it if nothing else
   * wrote in between; on a race it reads again and retries, as kube's GuaranteedUpdate does.
   */
  async guaranteedUpdate(namespace: string | undefined, name: string, options: WriteOptions, change: (current: KubeObject) => KubeObject | Promise<KubeObject>): Promise<KubeObject> {
    const key = this.key(namespace, name);
    let stored = await this.read(namespace, name);
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = this.withVersion(structuredClone(stored));
      const next = this.prepareForUpdate(current, await change(structuredClone(current)), options);
      if (isUnchanged(current, next)) return current;
      if (options.admission) {
        await options.admission.mutate("UPDATE", next, current);
        this.validate(next, current, options.subresource);
        await options.admission.validate("UPDATE", next, current);
      }
      delete next.metadata!.resourceVersion;
      if (options.dryRun) return { ...next, metadata: { ...next.metadata, resourceVersion: current.metadata!.resourceVersion } };
      if (next.metadata!.deletionTimestamp && !this.heldFromDeletion(next) && this.heldFromDeletion(current)) {
        // The last finalizer is gone from an object being deleted: now it really goes.
        const outcome = await this.written(() => this.storage.delete(key, stored.modRevision));
        if (outcome.ok) {
          await this.def.release?.(current, this.storage);
          await options.admission?.deleted(current);
          return { ...next, metadata: { ...next.metadata, resourceVersion: String(outcome.revision) } };
        }
        if (!outcome.current) throw apiErrors.notFound(this.def.group, this.def.resource, name);
        stored = outcome.current;
        continue;
      }
      const outcome = await this.writeOver(key, name, next, stored);
      if ("written" in outcome) return outcome.written;
      stored = outcome.current;
    }
    throw this.staleError(name);
  }

  private prepareForUpdate(current: KubeObject, next: KubeObject, options: WriteOptions): KubeObject {
    if (next === null || typeof next !== "object" || Array.isArray(next)) throw apiErrors.badRequest("the object must be a JSON object");
    if (next.metadata === null || next.metadata === undefined) throw apiErrors.badRequest("metadata: Required value: an update keeps the object's metadata");
    checkShape(next);
    if (!this.def.custom) checkNoDirectives(next, "", this.def.opaque);
    const metadata: Record<string, any> = (next.metadata ??= {});
    const old = current.metadata!;
    // What an update may not change is refused, not quietly put back, as kube-apiserver refuses it.
    if (metadata.name !== undefined && metadata.name !== old.name) {
      throw apiErrors.badRequest(`the name of the object (${metadata.name}) does not match the name on the URL (${old.name})`);
    }
    if (this.def.namespaced && metadata.namespace !== undefined && metadata.namespace !== old.namespace) {
      throw apiErrors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    if (metadata.uid !== undefined && metadata.uid !== old.uid) {
      throw apiErrors.conflict(this.def.group, this.def.resource, old.name, `Precondition failed: UID in precondition: ${metadata.uid}, UID in object meta: ${old.uid}`);
    }
    if (metadata.resourceVersion !== undefined && metadata.resourceVersion !== old.resourceVersion) {
      if (!/^\d+$/.test(String(metadata.resourceVersion))) throw apiErrors.badRequest(`metadata.resourceVersion: Invalid value: ${JSON.stringify(metadata.resourceVersion)}: must be a decimal number`);
      throw this.staleError(old.name);
    }
    if (next.kind !== undefined && next.kind !== this.def.kind) throw apiErrors.badRequest(`the kind of the object (${next.kind}) does not match the URL's kind ${this.def.kind}`);
    if (next.apiVersion !== undefined && next.apiVersion !== this.apiVersion && next.apiVersion !== current.apiVersion) {
      throw apiErrors.badRequest(`the API version in the data (${next.apiVersion}) does not match the expected API version (${this.apiVersion})`);
    }
    // What no update may change.
    next.apiVersion = this.apiVersion;
    next.kind = this.def.kind;
    metadata.name = old.name;
    if (this.def.namespaced) metadata.namespace = old.namespace;
    metadata.uid = old.uid;
    metadata.creationTimestamp = old.creationTimestamp;
    if (old.deletionTimestamp) {
      metadata.deletionTimestamp = old.deletionTimestamp;
      metadata.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
    } else {
      delete metadata.deletionTimestamp;
      delete metadata.deletionGracePeriodSeconds;
    }
    if (options.subresource === "status") {
      // Only the status moves; everything else stays as stored.
      const status = next.status;
      const kept = structuredClone(current);
      kept.status = status;
      this.def.defaults?.(kept);
      return this.finishUpdate(current, kept, options);
    }
    if (options.subresource === "finalize") {
      const kept = structuredClone(current);
      kept.spec = { ...kept.spec, finalizers: next.spec?.finalizers ?? [] };
      return this.finishUpdate(current, kept, options);
    }
    if (this.def.hasStatus) next.status = structuredClone(current.status);
    this.def.keepOnUpdate?.(next, current);
    this.def.defaults?.(next);
    if (this.def.generation !== false) {
      metadata.generation = old.generation ?? 1;
      if (specChanged(current, next)) metadata.generation += 1;
    }
    return this.finishUpdate(current, next, options);
  }

  private finishUpdate(current: KubeObject, next: KubeObject, options: WriteOptions): KubeObject {
    this.validate(next, current, options.subresource);
    if (options.keepManagedFields) return next;
    // A write may set managedFields itself (kubectl does, moving client-side apply's fields to its
    // server-side apply manager); subresource writes may not.
    const live = current.metadata?.managedFields;
    const base = options.subresource ? live : managedFieldsFromRequest(next.metadata!.managedFields, live);
    next.metadata!.managedFields = base;
    recordUpdate(next, { ...current, metadata: { ...current.metadata, managedFields: base } }, options.manager ?? "unknown", options.subresource);
    return next;
  }

  // ---- delete ----

  /** Whether something still holds an object that is being deleted: finalizers, or its kind's own (a Namespace's spec.finalizers). */
  private heldFromDeletion(object: KubeObject): boolean {
    return !!object.metadata?.finalizers?.length || !!this.def.deletion?.pending?.(object);
  }

  async delete(namespace: string | undefined, name: string, options: DeleteOptions = {}): Promise<KubeObject> {
    const key = this.key(namespace, name);
    let stored = await this.read(namespace, name);
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = this.withVersion(structuredClone(stored));
      const pre = options.preconditions;
      if (pre?.uid && pre.uid !== current.metadata!.uid) {
        throw apiErrors.conflict(this.def.group, this.def.resource, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata!.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== current.metadata!.resourceVersion) {
        throw apiErrors.conflict(this.def.group, this.def.resource, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata!.resourceVersion}`);
      }
      if (!current.metadata!.deletionTimestamp) {
        const refused = this.def.deletion?.refuse?.(current);
        if (refused) throw refused;
      }
      const finalizers: string[] = [...(current.metadata!.finalizers ?? [])];
      if (options.propagationPolicy === "Foreground" && !finalizers.includes("foregroundDeletion")) finalizers.push("foregroundDeletion");
      if (options.propagationPolicy === "Orphan" && !finalizers.includes("orphan")) finalizers.push("orphan");
      // Admission sees every DELETE, as kube's: a graceful one or one held by finalizers too.
      await options.admission?.validate("DELETE", undefined, current);
      const grace = this.gracePeriod(current, options);
      if (finalizers.length || grace > 0 || this.def.deletion?.pending?.(current)) {
        // Graceful: mark it; finalizers' owners (or the kubelet) finish the job.
        if (current.metadata!.deletionTimestamp && !finalizers.some((f) => !(current.metadata!.finalizers ?? []).includes(f))) return current;
        const marked = structuredClone(current);
        marked.metadata!.finalizers = finalizers;
        marked.metadata!.deletionTimestamp ??= kubeTime(Date.now() + grace * 1000);
        marked.metadata!.deletionGracePeriodSeconds = grace;
        this.def.deletion?.mark?.(marked);
        delete marked.metadata!.resourceVersion;
        if (options.dryRun) return { ...marked, metadata: { ...marked.metadata, resourceVersion: current.metadata!.resourceVersion } };
        const outcome = await this.put((lease) => this.storage.update(key, this.encode(marked), stored.modRevision, { lease }));
        if (outcome.ok) return { ...marked, metadata: { ...marked.metadata, resourceVersion: String(outcome.revision) } };
        if (!outcome.current) throw apiErrors.notFound(this.def.group, this.def.resource, name);
        stored = outcome.current;
        continue;
      }
      if (options.dryRun) return current;
      const outcome = await this.written(() => this.storage.delete(key, stored.modRevision));
      if (outcome.ok) {
        await this.def.release?.(current, this.storage);
        await options.admission?.deleted(current);
        return current;
      }
      if (!outcome.current) throw apiErrors.notFound(this.def.group, this.def.resource, name);
      stored = outcome.current;
    }
    throw this.staleError(name);
  }

  /** Pods bound to a node get their grace period so the kubelet can stop them; others go now. */
  private gracePeriod(current: KubeObject, options: DeleteOptions): number {
    if (this.def.group !== "" || this.def.resource !== "pods") return 0;
    if (!current.spec?.nodeName || current.status?.phase === "Succeeded" || current.status?.phase === "Failed") return 0;
    return options.gracePeriodSeconds ?? current.spec?.terminationGracePeriodSeconds ?? 30;
  }

  async deleteCollection(namespace: string | undefined, query: ListQuery, options: DeleteOptions): Promise<KubeObject> {
    const list = await this.list(namespace, query);
    const deleted: KubeObject[] = [];
    for (const item of list.items as KubeObject[]) {
      try {
        deleted.push(await this.delete(item.metadata!.namespace, item.metadata!.name, options));
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    }
    return { ...list, items: deleted };
  }
}

// ---- helpers ----



/** What every object's top level must be, whatever its kind: strings and a metadata object of strings where kube's types say so. */
function checkShape(object: KubeObject): void {
  const causes: StatusCause[] = [];
  if (object.apiVersion !== undefined && typeof object.apiVersion !== "string") causes.push({ reason: "FieldValueInvalid", field: "apiVersion", message: "Invalid value: must be a string" });
  if (object.kind !== undefined && typeof object.kind !== "string") causes.push({ reason: "FieldValueInvalid", field: "kind", message: "Invalid value: must be a string" });
  const metadata = object.metadata;
  if (metadata !== undefined && metadata !== null && (typeof metadata !== "object" || Array.isArray(metadata))) {
    causes.push({ reason: "FieldValueInvalid", field: "metadata", message: "Invalid value: must be an object" });
  } else if (metadata) {
    for (const key of ["name", "generateName", "namespace", "uid", "resourceVersion"]) {
      if (metadata[key] !== undefined && metadata[key] !== null && typeof metadata[key] !== "string") causes.push({ reason: "FieldValueInvalid", field: `metadata.${key}`, message: "Invalid value: must be a string" });
    }
    for (const key of ["labels", "annotations"]) {
      const map = metadata[key];
      if (map === undefined || map === null) continue;
      if (typeof map !== "object" || Array.isArray(map) || Object.values(map).some((v) => typeof v !== "string")) {
        causes.push({ reason: "FieldValueInvalid", field: `metadata.${key}`, message: "Invalid value: must be a map of strings to strings" });
      }
    }
    for (const key of ["finalizers"]) {
      const list = metadata[key];
      if (list !== undefined && list !== null && (!Array.isArray(list) || list.some((v) => typeof v !== "string"))) {
        causes.push({ reason: "FieldValueInvalid", field: `metadata.${key}`, message: "Invalid value: must be a list of strings" });
      }
    }
  }
  if (causes.length) throw apiErrors.badRequest(`the object in the request is not well formed: ${causes.map((c) => `${c.field}: ${c.message}`).join(", ")}`);
}

/**
 * Strategic merge patch directives ($patch, $setElementOrder/…, $retainKeys, …) that did not apply
 * must not be stored: no built-in type has a field whose name starts with "$".
 */
function checkNoDirectives(object: unknown, path = "", opaque: string[] = []): void {
  if (Array.isArray(object)) {
    object.forEach((item, i) => checkNoDirectives(item, `${path}[${i}]`));
    return;
  }
  if (object === null || typeof object !== "object") return;
  for (const [key, value] of Object.entries(object)) {
    if (!path && opaque.includes(key)) continue;
    const at = path ? `${path}.${key}` : key;
    // Map-valued fields (labels, annotations, data, selectors) hold user keys, which kube also refuses to start with "$" where it validates them.
    if (key.startsWith("$")) throw apiErrors.badRequest(`${at}: a patch directive or a field no built-in type has`);
    checkNoDirectives(value, at);
  }
}

function generateName(base: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return base.slice(0, 58) + [...bytes].map((b) => NAME_CHARS[b % NAME_CHARS.length]).join("");
}

/** Generation moves when anything outside metadata and status changes. */
function specChanged(a: KubeObject, b: KubeObject): boolean {
  const strip = ({ metadata: _m, status: _s, ...rest }: KubeObject) => rest;
  return !deepEqual(strip(a), strip(b));
}

function isUnchanged(current: KubeObject, next: KubeObject): boolean {
  const { resourceVersion: _a, ...currentMeta } = current.metadata ?? {};
  const { resourceVersion: _b, ...nextMeta } = next.metadata ?? {};
  return deepEqual({ ...current, metadata: currentMeta }, { ...next, metadata: nextMeta });
}


function parseResourceVersion(text: string): number {
  if (!/^\d+$/.test(text)) throw apiErrors.badRequest(`Invalid value: "${text}": resourceVersion must be a decimal number`);
  return Number(text);
}

function encodeContinue(rv: number, start: string): string {
  return btoa(JSON.stringify({ v: "meta.k8s.io/v1", rv, start })).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const padded = token.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((token.length + 3) % 4);
    const parsed = JSON.parse(atob(padded));
    if (parsed.v !== "meta.k8s.io/v1" || typeof parsed.rv !== "number" || typeof parsed.start !== "string") throw new Error();
    return parsed;
  } catch {
    throw apiErrors.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  }
}

