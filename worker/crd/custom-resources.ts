// Custom resources served from the CRDs in the store: each established CRD's served versions
// become ResourceDefinitions for the one generic registry store. An isolate keeps what it read
// for a second (and reads again at once when a request names a resource it does not know, or
// after it wrote a CRD itself), as kube-apiserver's CRD handler follows CRDs through a watch.
import { IsolateCache } from "../../lib/isolate-cache.ts";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import { findResource, resources } from "../registry/index.ts";
import { RegistryStore } from "../registry/store.ts";
import type { KubeObject, ResourceDefinition } from "../registry/types.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { CelRules } from "./cel.ts";
import { CRD_FINALIZER, crdResource, isEstablished } from "./definition.ts";
import { customResourcePrinter } from "./printer.ts";
import { StructuralSchema } from "./schema.ts";

type Obj = Record<string, any>;

export interface CustomResources {
  /** Every served version of every established CRD. */
  defs: ResourceDefinition[];
  crds: KubeObject[];
  /** Changes whenever any CRD does: keys the OpenAPI documents built from them. */
  fingerprint: string;
}

const FRESH_MS = 1000;
/** A request for an unknown resource reads the CRDs again, but not more often than this. */
const MISS_REFRESH_MS = 100;

const cached = new IsolateCache<CustomResources>(FRESH_MS);
/** Compiled definitions by CRD uid and resourceVersion: schemas compile once per change. */
const compiled = new Map<string, ResourceDefinition[]>();

/** Forgets what this isolate read, after it wrote a CRD. */
export function invalidateCustomResources(): void {
  cached.invalidate();
}

export function customResources(env: Env, maxAgeMs = FRESH_MS): Promise<CustomResources> {
  return cached.get(() => readCustomResources(env), maxAgeMs);
}

async function readCustomResources(env: Env): Promise<CustomResources> {
  const store = new RegistryStore(crdResource, new ObjectStorage(env));
  const crds = (await store.all()) as (KubeObject & { metadata: Record<string, any> })[];
  const live = new Set<string>();
  const defs: ResourceDefinition[] = [];
  for (const crd of crds) {
    const key = `${crd.metadata.uid}/${crd.metadata.resourceVersion}`;
    live.add(key);
    let versions = compiled.get(key);
    if (!versions) {
      versions = isEstablished(crd) ? definitionsOf(crd) : [];
      compiled.set(key, versions);
    }
    defs.push(...versions);
  }
  for (const key of compiled.keys()) if (!live.has(key)) compiled.delete(key);
  return { defs, crds, fingerprint: [...live].sort().join(",") };
}

/** A built-in resource or an established custom resource, by its URL's group, version and plural. */
export async function resolveResource(env: Env, group: string, version: string, resource: string): Promise<ResourceDefinition | undefined> {
  const builtin = findResource(group, version, resource);
  if (builtin) return builtin;
  const match = (set: CustomResources) => set.defs.find((d) => d.group === group && d.version === version && d.resource === resource);
  return match(await customResources(env)) ?? match(await customResources(env, MISS_REFRESH_MS));
}

/** Built-in resources and every custom resource, for discovery. */
export async function servedResources(env: Env): Promise<ResourceDefinition[]> {
  return [...resources, ...(await customResources(env)).defs];
}

function definitionsOf(crd: KubeObject): ResourceDefinition[] {
  const spec: Obj = crd.spec;
  const names: Obj = crd.status?.acceptedNames?.kind ? crd.status.acceptedNames : spec.names;
  const storageVersion = spec.versions.find((v: Obj) => v.storage).name;
  const storageApiVersion = `${spec.group}/${storageVersion}`;
  const terminating = !!crd.metadata?.deletionTimestamp;
  return (spec.versions as Obj[]).filter((v) => v.served).map((v): ResourceDefinition => {
    const schema: Obj = v.schema?.openAPIV3Schema ?? { type: "object", "x-kubernetes-preserve-unknown-fields": true };
    const structural = new StructuralSchema(schema);
    const rules = new CelRules(schema);
    const apiVersion = `${spec.group}/${v.name}`;
    const scale = v.subresources?.scale;
    return {
      group: spec.group, version: v.name, kind: names.kind, resource: names.plural, singular: names.singular ?? names.kind.toLowerCase(),
      namespaced: spec.scope === "Namespaced", shortNames: names.shortNames, categories: names.categories,
      hasStatus: !!v.subresources?.status,
      scalable: !!scale,
      scalePaths: scale ? { specReplicasPath: scale.specReplicasPath, statusReplicasPath: scale.statusReplicasPath, labelSelectorPath: scale.labelSelectorPath } : undefined,
      printer: customResourcePrinter(v.additionalPrinterColumns),
      custom: { crd: crd.metadata!.name, schema },
      // Conversion "None": only apiVersion changes between versions; defaults apply on read too.
      conversion: {
        toStorage: (object) => ({ ...object, apiVersion: storageApiVersion }),
        fromStorage: (object) => {
          object.apiVersion = apiVersion;
          structural.applyDefaults(object);
          return object;
        },
      },
      defaults(object) {
        structural.prune(object);
        structural.applyDefaults(object);
      },
      validate(object, old) {
        const causes = structural.validate(object);
        return causes.length ? causes : rules.validate(object, old);
      },
      unknownFields: (object) => structural.unknownFields(object),
      async allocate() {
        if (terminating) throw apiErrors.methodNotAllowed(`create not allowed while custom resource definition is terminating`);
        return [];
      },
    };
  });
}

/**
 * The CRD finalizer's work (kube's crd-finalizer controller): once a CRD is being deleted, delete
 * every one of its custom resources, then drop the finalizer, which deletes the CRD.
 */
export async function finalizeCustomResourceDefinition(env: Env, name: string): Promise<void> {
  const storage = new ObjectStorage(env);
  const crds = new RegistryStore(crdResource, storage);
  // Mark it Terminating (an update re-runs establish(), which adds the condition).
  let crd: KubeObject;
  try {
    crd = await crds.guaranteedUpdate(undefined, name, { manager: "apiextensions-apiserver" }, (c) => c);
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) return;
    throw e;
  }
  invalidateCustomResources();
  if (!crd.metadata?.deletionTimestamp || !crd.metadata.finalizers?.includes(CRD_FINALIZER)) return;
  const storageVersion = crd.spec.versions.find((v: Obj) => v.storage)?.name;
  const def: ResourceDefinition = {
    group: crd.spec.group, version: storageVersion, kind: crd.spec.names.kind, resource: crd.spec.names.plural,
    singular: crd.spec.names.singular, namespaced: crd.spec.scope === "Namespaced",
  };
  const store = new RegistryStore(def, storage);
  const gone = await store.deleteCollection(undefined, {}, { gracePeriodSeconds: 0 });
  if (gone.items.some((o: KubeObject) => o.metadata?.finalizers?.length)) return;
  await crds.guaranteedUpdate(undefined, name, { manager: "apiextensions-apiserver" }, (c) => {
    c.metadata!.finalizers = (c.metadata!.finalizers ?? []).filter((f: string) => f !== CRD_FINALIZER);
    return c;
  });
  invalidateCustomResources();
}
