// networking.k8s.io/v1 resources: Ingress, IngressClass and NetworkPolicy, with kube's defaults
// and the part of its validation that clients meet (an Ingress path's pathType, a class's controller).
import type { HTTPIngressPath, Ingress, IngressClass, NetworkPolicy, NetworkPolicyPort } from "kubernetes-types/networking/v1";
import type { StatusCause } from "../../lib/k8s/status.ts";
import { declare, type ResourceDefinition } from "./types.ts";
import { invalid, required } from "./validation.ts";

const PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"];

function validateIngressPath(path: HTTPIngressPath, field: string): StatusCause[] {
  if (path.pathType === undefined || path.pathType === null) return [required(`${field}.pathType`, "Required value: pathType must be specified")];
  if (!PATH_TYPES.includes(path.pathType)) {
    return [{ reason: "FieldValueNotSupported", field: `${field}.pathType`, message: `Unsupported value: ${JSON.stringify(path.pathType)}: supported values: ${PATH_TYPES.map((t) => JSON.stringify(t)).join(", ")}` }];
  }
  // ImplementationSpecific paths may be empty; every path given must be absolute.
  const mustBeAbsolute = path.pathType !== "ImplementationSpecific" || !!path.path;
  return mustBeAbsolute && !path.path?.startsWith("/") ? [invalid(`${field}.path`, path.path ?? "", "must be an absolute path")] : [];
}

function validateIngress(ingress: Ingress): StatusCause[] {
  const spec = ingress.spec ?? {};
  if (!spec.rules?.length && !spec.defaultBackend) {
    // kube prints the Go value of the absent rules.
    return [{ reason: "FieldValueInvalid", field: "spec", message: "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified" }];
  }
  return (spec.rules ?? []).flatMap((rule, i) =>
    (rule.http?.paths ?? []).flatMap((path, j) => validateIngressPath(path, `spec.rules[${i}].http.paths[${j}]`)),
  );
}

function defaultPolicyPorts(ports: NetworkPolicyPort[] | undefined): void {
  for (const port of ports ?? []) port.protocol ??= "TCP";
}

export const networkingResources: ResourceDefinition[] = [
  declare("networking.k8s.io/v1", "ingresses", {
    hasStatus: true,
    defaults(ingress) {
      ingress.spec ??= {};
      ingress.status ??= { loadBalancer: {} };
    },
    validate: (ingress) => validateIngress(ingress as Ingress),
  }),
  declare("networking.k8s.io/v1", "ingressclasses", {
    defaults(ingressClass) {
      ingressClass.spec ??= {};
      const parameters = (ingressClass as IngressClass).spec!.parameters;
      if (parameters) parameters.scope ??= "Cluster";
    },
    validate: (ingressClass) => ((ingressClass as IngressClass).spec?.controller ? [] : [required("spec.controller")]),
  }),
  declare("networking.k8s.io/v1", "networkpolicies", {
    defaults(policy) {
      const spec = ((policy as NetworkPolicy).spec ??= { podSelector: {} });
      spec.podSelector ??= {};
      for (const rule of spec.ingress ?? []) defaultPolicyPorts(rule.ports);
      for (const rule of spec.egress ?? []) defaultPolicyPorts(rule.ports);
      // A policy that names no types restricts ingress, and egress too when it has egress rules.
      if (!spec.policyTypes?.length) spec.policyTypes = spec.egress?.length ? ["Ingress", "Egress"] : ["Ingress"];
    },
  }),
];
