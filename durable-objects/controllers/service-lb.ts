// The service load balancer controller (cloud-controller-manager's "service-lb-controller", here
// with the control plane's edge as the cloud): a `type: LoadBalancer` Service that opts in with
// `edgeplane.dev/expose: "true"` gets `status.loadBalancer.ingress` = its hostname under the edge
// (`<svc>.<ns>.<domain>`), which the Worker relays through a node's tunnel (worker/loadbalancer/).
// Without the opt-in it stays <pending>, as in a cluster without a cloud; a Service of another
// loadBalancerClass is left to its own implementation.
import type { LoadBalancerIngress, Service } from "kubernetes-types/core/v1";
import { isNotFound } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { keyOf, splitKey, type Controller, type ReconcileContext } from "./framework.ts";
import { isExposed, loadBalancerHostname } from "./service-lb-names.ts";

const SERVICES = builtin("v1", "services");

/** The ingress the Service should have: its edge hostname when exposed, none otherwise. */
export function desiredIngress(service: Service, domain: string): LoadBalancerIngress[] {
  if (!isExposed(service)) return [];
  return [{ hostname: loadBalancerHostname(service.metadata!.namespace!, service.metadata!.name!, domain) }];
}

/** Whether an ingress entry is one this controller published (so it may take it away again). */
function isOurs(ingress: LoadBalancerIngress, domain: string): boolean {
  return !!ingress.hostname?.endsWith(`.${domain}`);
}

export const serviceLoadBalancerController: Controller = {
  name: "service-lb-controller",
  watches: [{ resource: SERVICES, keysFor: (svc) => [keyOf(svc)] }],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const service = ctx.listers.of<Service>(SERVICES).get(namespace, name);
    if (!service || service.metadata?.deletionTimestamp) return;
    const domain = ctx.settings.loadBalancerDomain;
    const current = service.status?.loadBalancer?.ingress ?? [];
    const desired = desiredIngress(service, domain);
    if (JSON.stringify(current) === JSON.stringify(desired)) return;
    if (desired.length) return ensure(service, desired, ctx);
    // Not (or no longer) exposed: take back only what this controller published.
    if (!current.some((i) => isOurs(i, domain))) return;
    await record(ctx, service, "DeletingLoadBalancer", "Deleting load balancer");
    await writeIngress(ctx, service, current.filter((i) => !isOurs(i, domain)));
    await record(ctx, service, "DeletedLoadBalancer", "Deleted load balancer");
  },
};

async function ensure(service: Service, ingress: LoadBalancerIngress[], ctx: ReconcileContext): Promise<void> {
  await record(ctx, service, "EnsuringLoadBalancer", "Ensuring load balancer");
  await writeIngress(ctx, service, ingress);
  await record(ctx, service, "EnsuredLoadBalancer", "Ensured load balancer");
}

async function writeIngress(ctx: ReconcileContext, service: Service, ingress: LoadBalancerIngress[]): Promise<void> {
  const status = { ...service.status, loadBalancer: ingress.length ? { ingress } : {} };
  // A stale read answers 409 and the key is retried from a fresh cache; a deleted Service needs nothing.
  await ctx.client.resource<Service>(SERVICES).updateStatus(service.metadata!.namespace, { ...service, status }).catch((e) => {
    if (!isNotFound(e)) throw e;
  });
}

function record(ctx: ReconcileContext, service: Service, reason: string, note: string): Promise<unknown> {
  return ctx.recorder.record(service, undefined, "Normal", reason, "EnsureLoadBalancer", note).catch(() => undefined);
}
