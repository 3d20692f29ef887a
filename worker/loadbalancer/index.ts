// The edge's load balancer in front of the apiserver: a request whose Host is an exposed Service's
// hostname, or whose path is under /lb/<ns>/<svc>/, is relayed to the Service (relay.ts) before
// anything of the apiserver (authentication included) sees it; every other request passes on.
import type { MiddlewareHandler } from "hono";
import { edgeTargetOf, loadBalancerDomain } from "../../durable-objects/controllers/service-lb-names.ts";
import { requestUrl } from "../apiserver/request-url.ts";
import type { AppEnv } from "../context.ts";
import { relayToService } from "./relay.ts";

export const edgeLoadBalancer: MiddlewareHandler<AppEnv> = async (c, next) => {
  const target = edgeTargetOf(requestUrl(c.req.raw), c.req.header("host") ?? null, loadBalancerDomain(c.env.LOADBALANCER_DOMAIN));
  if (!target) return next();
  return relayToService(c.req.raw, c.env, target);
};
