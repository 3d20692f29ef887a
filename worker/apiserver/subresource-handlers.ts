// The subresources and verbs that are not the generic store's: each an entry of this table, so the
// generic handlers hold no per-resource case. scale (any scalable kind), pods/binding and
// pods/eviction, pods/log, pods/exec, pods/attach and pods/portforward (through the node's tunnel), serviceaccounts/token and nodes/token (TokenRequests), namespaces/finalize.
import type { Context } from "hono";
import { apiErrors } from "../../lib/k8s/status.ts";
import { issueNodeCredential, issueToken } from "../authn/service-account-tokens.ts";
import { nodeName, podOnNode } from "../authz/node.ts";
import type { AppEnv } from "../context.ts";
import { finalizeNamespace } from "../registry/namespaces.ts";
import type { RegistryStore } from "../registry/store.ts";
import { bindPod, evictPod, scaleOf, updateScale } from "../registry/subresources.ts";
import type { ResourceDefinition } from "../registry/types.ts";
import { parseBody, readObject, readText } from "./bodies.ts";
import { respond } from "./negotiation.ts";
import { applyPatch, PATCH_TYPES } from "./patch.ts";
import { servePodLog } from "../tunnel/pod-log.ts";
import { servePodPortForward } from "../tunnel/portforward.ts";
import { podStreamHandler } from "../tunnel/exec.ts";
import type { Target } from "./target.ts";

export interface SubresourceRequest {
  c: Context<AppEnv>;
  target: Target & { name: string };
  store: RegistryStore;
  dryRun: boolean;
  manager: string;
}

interface SubresourceHandler {
  /** The subresource's name, and which resources have it. */
  subresource: string;
  serves(def: ResourceDefinition): boolean;
  methods: Record<string, (request: SubresourceRequest) => Promise<Response>>;
}

/** serviceaccounts/token answers a TokenRequest. */
const TOKEN_REQUEST: ResourceDefinition = { group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", resource: "token", singular: "", namespaced: true };

/** The Scale kind, for patching a /scale subresource. */
const SCALE: ResourceDefinition = { group: "autoscaling", version: "v1", kind: "Scale", resource: "scale", singular: "scale", namespaced: true };

const core = (resource: string) => (def: ResourceDefinition) => def.group === "" && def.resource === resource;

const HANDLERS: SubresourceHandler[] = [
  {
    subresource: "scale",
    serves: (def) => !!def.scalable,
    methods: {
      GET: async ({ c, target, store }) => c.json(scaleOf(await store.get(target.namespace, target.name), target.def)),
      PUT: async ({ c, target, store, dryRun, manager }) => {
        const body = await readObject(c);
        return c.json(await updateScale(store, target.namespace, target.name, () => body, dryRun, manager));
      },
      PATCH: async ({ c, target, store, dryRun, manager }) => {
        const contentType = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim();
        if (!PATCH_TYPES.includes(contentType)) throw apiErrors.unsupportedMediaType(PATCH_TYPES);
        const patch = parseBody(await readText(c), "application/json");
        return c.json(await updateScale(store, target.namespace, target.name, (scale) => applyPatch(contentType, scale, patch, SCALE), dryRun, manager));
      },
    },
  },
  {
    subresource: "log",
    serves: core("pods"),
    methods: { GET: servePodLog },
  },
  ...(["exec", "attach"] as const).map((subresource) => ({
    subresource,
    serves: core("pods"),
    methods: { GET: podStreamHandler(subresource), POST: podStreamHandler(subresource) },
  })),
  {
    subresource: "portforward",
    serves: core("pods"),
    methods: { GET: servePodPortForward, POST: servePodPortForward },
  },
  {
    subresource: "binding",
    serves: core("pods"),
    methods: { POST: async ({ c, target, store, dryRun }) => c.json(await bindPod(store, target.namespace!, target.name, await readObject(c), dryRun), 201) },
  },
  {
    subresource: "eviction",
    serves: core("pods"),
    methods: { POST: async ({ c, target, store, dryRun }) => c.json(await evictPod(store, target.namespace!, target.name, await readObject(c), dryRun), 201) },
  },
  {
    subresource: "token",
    serves: core("nodes"),
    methods: { POST: async ({ c, target }) => respond(c, TOKEN_REQUEST, await issueNodeCredential(c.env, target.name, await readObject(c)), 201) },
  },
  {
    subresource: "token",
    serves: core("serviceaccounts"),
    methods: {
      POST: async ({ c, target, store }) => {
        const { namespace, name } = target;
        const serviceAccount = await store.get(namespace, name);
        const request = await readObject(c);
        const node = nodeName(c.get("user"));
        let pod: Record<string, any> | undefined;
        if (node) {
          // NodeRestriction: a node asks only for tokens bound to a pod of its own that runs as this account.
          const ref = request?.spec?.boundObjectRef;
          pod = ref?.kind === "Pod" && typeof ref.name === "string" ? await podOnNode(c.env, namespace!, ref.name, node) : undefined;
          if (!pod || (pod.spec?.serviceAccountName ?? "default") !== name) {
            throw apiErrors.forbidden(`serviceaccounts "${name}" is forbidden: node requested token not bound to a pod scheduled on the node`);
          }
        }
        // The pod just read is the one the token is bound to: it is not read again.
        return respond(c, TOKEN_REQUEST, await issueToken(c.env, serviceAccount, request, pod), 201);
      },
    },
  },
  {
    subresource: "finalize",
    serves: core("namespaces"),
    methods: {
      PUT: async ({ c, target, store, dryRun, manager }) => {
        const body = await readObject(c);
        if (body.metadata?.name !== target.name) throw apiErrors.badRequest(`the name of the object (${body.metadata?.name ?? ""}) does not match the name on the URL (${target.name})`);
        const finalizers = body.spec?.finalizers ?? [];
        if (!Array.isArray(finalizers) || finalizers.some((f: unknown) => typeof f !== "string")) throw apiErrors.badRequest("spec.finalizers must be a list of strings");
        return respond(c, target.def, await finalizeNamespace(store, target.name, finalizers, { dryRun, manager }));
      },
    },
  },
];

/** The handler for a request to a subresource this table serves, if any. */
export function subresourceHandler(def: ResourceDefinition, subresource: string, method: string): ((request: SubresourceRequest) => Promise<Response>) | undefined | "method not allowed" {
  const entry = HANDLERS.find((h) => h.subresource === subresource && h.serves(def));
  if (!entry) return undefined;
  return entry.methods[method] ?? "method not allowed";
}
