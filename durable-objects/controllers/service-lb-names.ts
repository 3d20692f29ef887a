// What makes a Service a load balancer at the edge, and the names it is reached by: shared by the
// controller that publishes them (service-lb.ts) and the Worker that relays requests to them
// (worker/loadbalancer/). Runtime-neutral, no I/O.
import type { Service } from "kubernetes-types/core/v1";

/** The per-Service opt-in: `edgeplane.dev/expose: "true"` on a `type: LoadBalancer` Service. */
export const EXPOSE_ANNOTATION = "edgeplane.dev/expose";
/** The loadBalancerClass this implementation answers for; a Service naming another class is another implementation's. */
export const LOAD_BALANCER_CLASS = "edgeplane.dev/edge";
/** Hostnames are `<service>.<namespace>.<domain>`; locally `*.localhost` names resolve to the host itself. */
export const DEFAULT_LOADBALANCER_DOMAIN = "lb.localhost";
/** Where no hostname reaches the control plane, `/lb/<namespace>/<service>/…` on its own address does. */
export const PATH_PREFIX = "/lb/";

/** LOADBALANCER_DOMAIN from the Worker's vars, lowercased, or the local default. */
export function loadBalancerDomain(value: string | undefined): string {
  return value?.trim().toLowerCase().replace(/^\.+|\.+$/g, "") || DEFAULT_LOADBALANCER_DOMAIN;
}

/** Whether this implementation handles the Service at all (it is a LoadBalancer of no class or of ours). */
export function isOurLoadBalancer(service: Service): boolean {
  const cls = service.spec?.loadBalancerClass;
  return service.spec?.type === "LoadBalancer" && (cls === undefined || cls === LOAD_BALANCER_CLASS);
}

/** Whether the Service is served at the edge: one of ours, and opted in. */
export function isExposed(service: Service): boolean {
  return isOurLoadBalancer(service) && service.metadata?.annotations?.[EXPOSE_ANNOTATION] === "true";
}

export function loadBalancerHostname(namespace: string, name: string, domain: string): string {
  return `${name}.${namespace}.${domain}`;
}

export interface EdgeTarget {
  namespace: string;
  name: string;
  /** The path (and query) the backend sees. */
  path: string;
  /** The path prefix the client used, if it came by prefix (X-Forwarded-Prefix). */
  prefix?: string;
}

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The Service a request is for: by its Host `<service>.<namespace>.<domain>` (any port), or by the
 * path prefix `/lb/<namespace>/<service>/`; undefined when it is for neither (the apiserver's).
 */
export function edgeTargetOf(url: URL, host: string | null, domain: string): EdgeTarget | undefined {
  const hostname = (host ?? url.host).toLowerCase().replace(/:\d+$/, "");
  const suffix = `.${domain}`;
  if (hostname.endsWith(suffix)) {
    const labels = hostname.slice(0, -suffix.length).split(".");
    if (labels.length === 2 && labels.every((l) => LABEL.test(l))) {
      return { namespace: labels[1]!, name: labels[0]!, path: url.pathname + url.search };
    }
  }
  if (!url.pathname.startsWith(PATH_PREFIX)) return undefined;
  const [namespace, name, ...rest] = url.pathname.slice(PATH_PREFIX.length).split("/");
  if (!namespace || !name || !LABEL.test(namespace) || !LABEL.test(name)) return undefined;
  return { namespace, name, path: `/${rest.join("/")}${url.search}`, prefix: `${PATH_PREFIX}${namespace}/${name}` };
}
