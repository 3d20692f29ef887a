// Ambient declarations for the Worker bundle: bindings and settings from wrangler.toml, and the
// migration files that drizzle-kit writes.

declare module "*.sql" {
  const text: string;
  export default text;
}

declare module "*/migrations/migrations.js" {
  const migrations: { journal: { entries: { idx: number; when: number; tag: string; breakpoints: boolean }[] }; migrations: Record<string, string> };
  export default migrations;
}

interface Env {
  STORE: DurableObjectNamespace<import("./durable-objects/store/index.ts").StoreShard>;
  SCHEDULER: DurableObjectNamespace<import("./durable-objects/scheduler/object.ts").KubeScheduler>;
  CONTROLLERS: DurableObjectNamespace<import("./durable-objects/controllers/object.ts").KubeControllerManager>;
  NODE_TUNNEL: DurableObjectNamespace<import("./durable-objects/tunnel/object.ts").NodeTunnel>;
  /** "false" keeps the store from waking the controller manager (test suites written for a cluster without one). */
  KUBE_CONTROLLER_MANAGER_ENABLED?: string;
  /** "false" keeps the store from waking the scheduler (test suites written for a cluster without one). */
  KUBE_SCHEDULER_ENABLED?: string;
  /** The scheduler's KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) as JSON; kube's defaults when unset. */
  KUBE_SCHEDULER_CONFIG?: string;
  /** The API as system:kube-scheduler / system:kube-controller-manager (service bindings to this Worker's entrypoints). */
  KUBE_SCHEDULER_API: Fetcher;
  KUBE_CONTROLLER_MANAGER_API: Fetcher;
  CLUSTER_NAME: string;
  STORE_SHARDS: string;
  /** The store's settings; unset ones take STORE_DEFAULTS (durable-objects/store/index.ts). */
  COMPACTION_RETAIN_REVISIONS?: string;
  COMPACTION_RETAIN_MINUTES?: string;
  WATCH_PROGRESS_NOTIFY_SECONDS?: string;
  /** The controller manager's flags (durable-objects/controllers/settings.ts): where node IPAM carves pod CIDRs (default 10.244.0.0/16, /24 per node). */
  CLUSTER_CIDR?: string;
  NODE_CIDR_MASK_SIZE?: string;
  /** How long a node may be silent before it is Ready=Unknown (default 40), or never posted status (default 60). */
  NODE_MONITOR_GRACE_PERIOD_SECONDS?: string;
  NODE_STARTUP_GRACE_PERIOD_SECONDS?: string;
  /** NoExecute taints per second per zone (default 0.1; 0.01 in a large partially disrupted zone). */
  NODE_EVICTION_RATE?: string;
  SECONDARY_NODE_EVICTION_RATE?: string;
  /** Terminated pods kept before PodGC deletes the oldest (default 12500). */
  TERMINATED_POD_GC_THRESHOLD?: string;
  /** The CA (PEM) pods should trust for the apiserver, published in each namespace's kube-root-ca.crt; unset, none is (dev-server sets its serving certificate). */
  CLUSTER_CA_PEM?: string;
  /** Where Services get their ClusterIPs (default 10.96.0.0/12). */
  SERVICE_CIDR?: string;
  /** LoadBalancer Services at the edge are `<svc>.<ns>.<LOADBALANCER_DOMAIN>` (default lb.localhost; also `/lb/<ns>/<svc>/` on any host). */
  LOADBALANCER_DOMAIN?: string;
  /** SHA-256 (hex) of the admin bearer token; the token itself is never given to the Worker. */
  ADMIN_TOKEN_SHA256?: string;
  /** The private JWK (EC P-256) that signs service account tokens: a secret. */
  SERVICE_ACCOUNT_KEY?: string;
  /** The `iss` of service account tokens (default https://kubernetes.default.svc.cluster.local). */
  SERVICE_ACCOUNT_ISSUER?: string;
  /** Comma-separated audiences the API accepts (default: the issuer). */
  SERVICE_ACCOUNT_AUDIENCES?: string;
  /** Where /.well-known/openid-configuration says the JWKS is (default: this server). */
  SERVICE_ACCOUNT_JWKS_URI?: string;
  /** OpenID Connect for people (off unless both are set), as kube-apiserver's --oidc-* flags. */
  OIDC_ISSUER_URL?: string;
  OIDC_CLIENT_ID?: string;
  OIDC_USERNAME_CLAIM?: string;
  /** "-" for none; default "<issuer>#" unless the username claim is "email". */
  OIDC_USERNAME_PREFIX?: string;
  OIDC_GROUPS_CLAIM?: string;
  OIDC_GROUPS_PREFIX?: string;
  /** An audit.k8s.io/v1 Policy as JSON (default: Metadata for all but event reads and health checks). */
  AUDIT_POLICY?: string;
  /** How long audit events are kept (default 168). */
  AUDIT_RETENTION_HOURS?: string;
  /** Seconds an Event lives after its last write, as kube-apiserver's --event-ttl (default 3600). */
  EVENT_TTL_SECONDS?: string;
  /** "true": requests without a token are system:anonymous (RBAC allows kube's public subset). Off by default. */
  ANONYMOUS_AUTH?: string;
  /** Requests per second per user (default 100; burst RATE_LIMIT_BURST, default twice that). */
  RATE_LIMIT_QPS?: string;
  RATE_LIMIT_BURST?: string;
  /** Requests per second for each system component (nodes, controllers; default 500). */
  SYSTEM_RATE_LIMIT_QPS?: string;
  /** Encryption at rest, a secret: comma-separated `name:base64key` AES-256 keys; the first encrypts, all decrypt. */
  ENCRYPTION_KEYS?: string;
  /** Comma-separated resources sealed at rest when ENCRYPTION_KEYS is set, e.g. "secrets,configmaps" (default "secrets"). */
  ENCRYPTED_RESOURCES?: string;
}

declare namespace Cloudflare {
  interface Env extends globalThis.Env {}
  interface GlobalProps {
    mainModule: typeof import("./worker/index.ts");
    durableNamespaces: "StoreShard";
  }
}
