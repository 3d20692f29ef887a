// apiextensions.k8s.io/v1 CustomResourceDefinition: its defaults, its validation as
// kube-apiserver validates it, and its status. Until controllers exist the apiserver accepts the
// names and establishes a CRD as it stores it, so the status says Established at once.
import { kubeTime } from "../../lib/k8s/time.ts";
import type { StatusCause } from "../../lib/k8s/status.ts";
import { invalid, required, validateDnsLabel, validateDnsSubdomain } from "../registry/validation.ts";
import { declare, type KubeObject, type ResourceDefinition } from "../registry/types.ts";
import { CelRules } from "./cel.ts";
import { JsonPathError, parseJsonPath } from "./printer.ts";
import { structuralErrors } from "./schema.ts";

/** Held by every CRD until its custom resources are deleted. */
export const CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io";

type Obj = Record<string, any>;

export function defaultCrd(crd: KubeObject): void {
  const spec: Obj = (crd.spec ??= {});
  const names: Obj = (spec.names ??= {});
  if (typeof names.kind === "string") {
    names.singular ??= names.kind.toLowerCase();
    names.listKind ??= `${names.kind}List`;
  }
  spec.conversion ??= { strategy: "None" };
  for (const version of Array.isArray(spec.versions) ? spec.versions : []) {
    for (const column of version?.additionalPrinterColumns ?? []) column.priority ??= 0;
  }
  if (!crd.metadata?.deletionTimestamp) {
    const finalizers: string[] = (crd.metadata!.finalizers ??= []);
    if (!finalizers.includes(CRD_FINALIZER)) finalizers.push(CRD_FINALIZER);
  }
  establish(crd);
}

function condition(type: string, status: string, reason: string, message: string, old: Obj[] | undefined): Obj {
  const previous = old?.find((c) => c.type === type);
  const lastTransitionTime = previous?.status === status ? previous.lastTransitionTime : kubeTime();
  return { type, status, lastTransitionTime, reason, message };
}

/** Accepts the names, marks the CRD Established (or Terminating) and records its storage version. */
export function establish(crd: KubeObject): void {
  const status: Obj = (crd.status ??= {});
  const spec = crd.spec ?? {};
  const old: Obj[] | undefined = status.conditions;
  status.acceptedNames = { ...spec.names };
  const conditions = [
    condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", old),
    condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted", old),
  ];
  if (crd.metadata?.deletionTimestamp) conditions.push(condition("Terminating", "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress", old));
  status.conditions = conditions;
  const storage = (Array.isArray(spec.versions) ? spec.versions : []).find((v: Obj) => v?.storage)?.name;
  const stored: string[] = Array.isArray(status.storedVersions) ? status.storedVersions : [];
  status.storedVersions = storage && !stored.includes(storage) ? [...stored, storage] : stored;
}

export function isEstablished(crd: KubeObject): boolean {
  return (crd.status?.conditions ?? []).some((c: Obj) => c.type === "Established" && c.status === "True");
}

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const KIND = /^[A-Za-z][A-Za-z0-9]*$/;

function validateNames(names: Obj, causes: StatusCause[]): void {
  const field = "spec.names";
  for (const key of ["plural", "kind"]) if (!names[key]) causes.push(required(`${field}.${key}`));
  if (names.plural && (!DNS1035_LABEL.test(names.plural) || names.plural !== names.plural.toLowerCase())) {
    causes.push(invalid(`${field}.plural`, names.plural, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"));
  }
  if (names.singular && !DNS1035_LABEL.test(names.singular)) causes.push(invalid(`${field}.singular`, names.singular, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"));
  if (names.kind && !KIND.test(names.kind)) causes.push(invalid(`${field}.kind`, names.kind, "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?"));
  if (names.listKind && !KIND.test(names.listKind)) causes.push(invalid(`${field}.listKind`, names.listKind, "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?"));
  if (names.kind && names.listKind === names.kind) causes.push(invalid(`${field}.listKind`, names.listKind, "kind and listKind may not be the same"));
  (names.shortNames ?? []).forEach((short: string, i: number) => {
    if (!DNS1035_LABEL.test(short)) causes.push(invalid(`${field}.shortNames[${i}]`, short, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"));
  });
  (names.categories ?? []).forEach((category: string, i: number) => {
    if (!DNS1035_LABEL.test(category)) causes.push(invalid(`${field}.categories[${i}]`, category, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"));
  });
}

function validateVersion(version: Obj, i: number, causes: StatusCause[]): void {
  const field = `spec.versions[${i}]`;
  if (!version?.name) causes.push(required(`${field}.name`));
  else causes.push(...validateDnsLabel(`${field}.name`, version.name));
  const schema = version?.schema?.openAPIV3Schema;
  if (!schema || typeof schema !== "object") {
    causes.push(required(`${field}.schema.openAPIV3Schema`, "Required value: schemas are required"));
  } else {
    const path = `${field}.schema.openAPIV3Schema`;
    causes.push(...structuralErrors(schema, path));
    causes.push(...new CelRules(schema, path).errors);
  }
  const scale = version?.subresources?.scale;
  if (scale) {
    if (!scale.specReplicasPath) causes.push(required(`${field}.subresources.scale.specReplicasPath`));
    else if (!String(scale.specReplicasPath).startsWith(".spec.")) causes.push(invalid(`${field}.subresources.scale.specReplicasPath`, scale.specReplicasPath, "should be a json path under .spec"));
    if (!scale.statusReplicasPath) causes.push(required(`${field}.subresources.scale.statusReplicasPath`));
    else if (!String(scale.statusReplicasPath).startsWith(".status.")) causes.push(invalid(`${field}.subresources.scale.statusReplicasPath`, scale.statusReplicasPath, "should be a json path under .status"));
  }
  (version?.additionalPrinterColumns ?? []).forEach((column: Obj, j: number) => {
    const at = `${field}.additionalPrinterColumns[${j}]`;
    if (!column.name) causes.push(required(`${at}.name`));
    if (!["integer", "number", "string", "boolean", "date"].includes(column.type)) {
      causes.push({ reason: "FieldValueNotSupported", field: `${at}.type`, message: `Unsupported value: ${JSON.stringify(column.type ?? "")}: supported values: "boolean", "date", "integer", "number", "string"` });
    }
    if (!column.jsonPath) causes.push(required(`${at}.jsonPath`));
    else {
      try {
        parseJsonPath(column.jsonPath);
      } catch (e) {
        if (!(e instanceof JsonPathError)) throw e;
        causes.push(invalid(`${at}.jsonPath`, column.jsonPath, `must be a simple json path: ${e.message}`));
      }
    }
  });
}

export function validateCrd(crd: KubeObject, old?: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec: Obj = crd.spec ?? {};
  const names: Obj = spec.names ?? {};
  if (!spec.group) causes.push(required("spec.group"));
  else {
    causes.push(...validateDnsSubdomain("spec.group", spec.group));
    if (!String(spec.group).includes(".")) causes.push(invalid("spec.group", spec.group, "should be a domain with at least one dot"));
  }
  if (crd.metadata?.name !== `${names.plural}.${spec.group}`) {
    causes.push(invalid("metadata.name", crd.metadata?.name, "must be spec.names.plural+\".\"+spec.group"));
  }
  if (!["Namespaced", "Cluster"].includes(spec.scope)) {
    causes.push(spec.scope ? { reason: "FieldValueNotSupported", field: "spec.scope", message: `Unsupported value: ${JSON.stringify(spec.scope)}: supported values: "Cluster", "Namespaced"` } : required("spec.scope"));
  }
  validateNames(names, causes);
  const versions: Obj[] = Array.isArray(spec.versions) ? spec.versions : [];
  if (!versions.length) causes.push(required("spec.versions", "Required value: must have exactly one version marked as storage version"));
  versions.forEach((version, i) => validateVersion(version, i, causes));
  const seen = new Set<string>();
  versions.forEach((version, i) => {
    if (seen.has(version?.name)) causes.push({ reason: "FieldValueDuplicate", field: `spec.versions[${i}].name`, message: `Duplicate value: ${JSON.stringify(version.name)}` });
    seen.add(version?.name);
  });
  if (versions.length && versions.filter((v) => v?.storage).length !== 1) {
    causes.push(invalid("spec.versions", versions, "must have exactly one version marked as storage version"));
  }
  if (versions.length && !versions.some((v) => v?.served)) causes.push(invalid("spec.versions", versions, "must have at least one version marked as served"));
  const strategy = spec.conversion?.strategy;
  if (strategy && strategy !== "None") {
    causes.push({ reason: "FieldValueNotSupported", field: "spec.conversion.strategy", message: `Unsupported value: ${JSON.stringify(strategy)}: supported values: "None"` });
  }
  if (spec.preserveUnknownFields === true) causes.push(invalid("spec.preserveUnknownFields", true, "must be false in order to use defaults in the schema"));
  if (old) {
    if (old.spec?.scope && spec.scope !== old.spec.scope) causes.push(invalid("spec.scope", spec.scope, "field is immutable"));
    if (old.spec?.group && spec.group !== old.spec.group) causes.push(invalid("spec.group", spec.group, "field is immutable"));
    for (const stored of old.status?.storedVersions ?? []) {
      if (!versions.some((v) => v?.name === stored)) {
        causes.push(invalid("status.storedVersions", old.status.storedVersions, `must appear in spec.versions: ${stored}`));
      }
    }
  }
  return causes;
}

export const crdResource: ResourceDefinition = declare("apiextensions.k8s.io/v1", "customresourcedefinitions", {
  hasStatus: true,
  defaults: defaultCrd,
  validate: validateCrd,
});
