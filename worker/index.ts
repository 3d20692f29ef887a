// The edgeplane Worker: the control plane's only door. Health endpoints are open; everything
// else needs a bearer token. The store Durable Object class is exported from here for wrangler.
import { WorkerEntrypoint } from "cloudflare:workers";
import { Hono } from "hono";
import { envActingAs, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER } from "./authn/system-identities.ts";
import { jwks, openIDConfiguration } from "./authn/service-account-tokens.ts";
import { requireAuthorizedUser } from "./authz/authorizer.ts";
import { MAIN_SHARD, storeObjectName } from "../lib/shards.ts";
import type { AppEnv } from "./context.ts";
import { versionInfo } from "./apiserver/discovery.ts";
import { requestUrl } from "./apiserver/request-url.ts";
import { kubernetesApi } from "./apiserver/routes.ts";
import { etcdGateway } from "./etcd-gateway.ts";
import { tunnelRoutes } from "./tunnel/node-tunnel.ts";
import { openapiRoutes } from "./openapi/index.ts";
import { rewriteRoutes } from "./storage/rewrite.ts";
import { auditMiddleware } from "./audit/middleware.ts";
import { auditRoutes } from "./audit/routes.ts";
import { postStartHookChecks, postStartHooks } from "./apiserver/bootstrap.ts";
import { componentChecks } from "./health/component-statuses.ts";
import { edgeLoadBalancer } from "./loadbalancer/index.ts";

export { StoreShard } from "../durable-objects/store/index.ts";
export { KubeScheduler } from "../durable-objects/scheduler/object.ts";
export { KubeControllerManager } from "../durable-objects/controllers/object.ts";
export { NodeTunnel } from "../durable-objects/tunnel/object.ts";

const app = new Hono<AppEnv>();

// Exposed LoadBalancer Services (their hostnames, /lb/<ns>/<svc>/) are relayed before anything else: no credential.
app.use("*", edgeLoadBalancer);

app.get("/healthz", (c) => c.text("ok"));
app.get("/livez", (c) => c.text("ok"));
app.get("/readyz", async (c) => {
  const verbose = c.req.query("verbose") !== undefined;
  let storeCheck: string;
  let storeReady = true;
  try {
    const stub = c.env.STORE.get(c.env.STORE.idFromName(storeObjectName(c.env.CLUSTER_NAME, MAIN_SHARD)));
    await stub.status();
    storeCheck = "[+]store ok";
  } catch (e) {
    storeReady = false;
    storeCheck = `[-]store failed: ${(e as Error).message}`;
  }
  const hooks = storeReady ? await postStartHookChecks(c.env) : { ready: false, lines: [] };
  const components = await componentChecks(c.env);
  const ready = storeReady && hooks.ready && components.ready;
  const checks = [storeCheck, ...hooks.lines, ...components.lines].join("\n");
  const status = ready ? 200 : 503;
  if (!verbose) return c.text(ready ? "ok" : `${checks}\nreadyz check failed`, status);
  return c.text(`${checks}\n${ready ? "readyz check passed" : "readyz check failed"}`, status);
});

app.get("/version", (c) => c.json(versionInfo()));

// The cluster's seed objects exist before this isolate serves anything else (kube's post-start hooks).
app.use("*", async (c, next) => (requestUrl(c.req.raw).pathname.startsWith("/etcd") ? next() : postStartHooks(c, next)));

// Service account token discovery, for those RBAC lets read it (service accounts, by kube's default).
app.get("/.well-known/openid-configuration", requireAuthorizedUser, (c) => c.json(openIDConfiguration(c.env, new URL(c.req.url).origin)));
app.get("/openid/v1/jwks", requireAuthorizedUser, async (c) => c.body(JSON.stringify(await jwks(c.env)), 200, { "Content-Type": "application/jwk-set+json" }));

// The named-shard mount comes first: the plain one ends in a catch-all for unknown methods.
app.route("/etcd/shards/:shard", etcdGateway);
app.route("/etcd", etcdGateway);
// The audit log, for cluster-admins; reading it is audited like any request.
app.use("/audit/*", auditMiddleware, requireAuthorizedUser);
app.route("/", auditRoutes);
app.route("/admin/storage", rewriteRoutes);
// A node agent's tunnel WebSocket: it authenticates as its node, not through the API's middleware.
app.route("/", tunnelRoutes);
app.route("/", openapiRoutes);
app.route("/", kubernetesApi);

/** The scheduler's way in: its Durable Object's service binding KUBE_SCHEDULER_API (wrangler.toml). */
export class KubeSchedulerApi extends WorkerEntrypoint<Env> {
  override fetch(request: Request): Promise<Response> {
    return Promise.resolve(app.fetch(request, envActingAs(this.env, KUBE_SCHEDULER), this.ctx));
  }
}

/** The controller manager's way in: KUBE_CONTROLLER_MANAGER_API. */
export class KubeControllerManagerApi extends WorkerEntrypoint<Env> {
  override fetch(request: Request): Promise<Response> {
    return Promise.resolve(app.fetch(request, envActingAs(this.env, KUBE_CONTROLLER_MANAGER), this.ctx));
  }
}

export default app;
