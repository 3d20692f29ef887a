// Table columns for networking.k8s.io: Ingresses, IngressClasses and NetworkPolicies, as kube prints them.
import type { Ingress, IngressClass, IngressRule, NetworkPolicy } from "kubernetes-types/networking/v1";
import { age, ageColumn, column, compareStrings, formatLabelSelector, nameColumn, nameOf, type TablePrinter } from "./table.ts";

/**
 * The first three hosts, "*" for none. Past three, kube counts every further rule as more, hosts
 * or not.
 */
function ingressHosts(rules: IngressRule[] | undefined): string {
  const list = rules ?? [];
  const hosts: string[] = [];
  let more = false;
  for (const rule of list) {
    if (hosts.length === 3) more = true;
    if (!more && rule.host) hosts.push(rule.host);
  }
  if (hosts.length === 0) return "*";
  return more ? `${hosts.join(",")} + ${list.length - 3} more...` : hosts.join(",");
}

/** Each load-balancer ingress point's IP, or else its hostname: sorted, without duplicates. */
function ingressAddress(ingress: Ingress): string {
  const addresses = new Set<string>();
  for (const point of ingress.status?.loadBalancer?.ingress ?? []) {
    if (point.ip) addresses.add(point.ip);
    else if (point.hostname) addresses.add(point.hostname);
  }
  return [...addresses].sort(compareStrings).join(",");
}

const ingress: TablePrinter<Ingress> = {
  columns: [
    nameColumn,
    column("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
    column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    column("Ports", "string", "Ports of TLS configurations that open"),
    ageColumn,
  ],
  cells(ingress, now) {
    return [
      nameOf(ingress),
      ingress.spec?.ingressClassName ?? "<none>",
      ingressHosts(ingress.spec?.rules),
      ingressAddress(ingress),
      ingress.spec?.tls?.length ? "80, 443" : "80",
      age(ingress, now),
    ];
  },
};

const ingressClass: TablePrinter<IngressClass> = {
  columns: [
    nameColumn,
    column("Controller", "string", "Controller that is responsible for handling this class"),
    column("Parameters", "string", "A reference to a resource with additional parameters"),
    ageColumn,
  ],
  cells(ingressClass, now) {
    const parameters = ingressClass.spec?.parameters;
    const reference = parameters ? `${parameters.kind}${parameters.apiGroup != null ? `.${parameters.apiGroup}` : ""}/${parameters.name}` : "<none>";
    return [nameOf(ingressClass), ingressClass.spec?.controller ?? "", reference, age(ingressClass, now)];
  },
};

const networkPolicy: TablePrinter<NetworkPolicy> = {
  columns: [nameColumn, column("Pod-Selector", "string", "The pods the policy applies to, as a label selector."), ageColumn],
  cells(policy, now) {
    return [nameOf(policy), formatLabelSelector(policy.spec?.podSelector), age(policy, now)];
  },
};

export const networkingPrinters: Record<string, TablePrinter> = {
  "networking.k8s.io/Ingress": ingress,
  "networking.k8s.io/IngressClass": ingressClass,
  "networking.k8s.io/NetworkPolicy": networkPolicy,
};
