// Two test projects: Worker and Durable Object code runs in real workerd (the Cloudflare Vitest
// integration); node-side code, e2e suites and the differential suite run in Node.
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** sha256("test-admin-token"): the admin credential the workerd tests present. */
const TEST_ADMIN_TOKEN_SHA256 = "17d6bfe05d1b1fb7bc499f8e3f639c7b3eda4c40f321eef8887a0c04c89a99c5";
/** A P-256 private JWK made for the tests only: it signs the service account tokens they issue. */
const TEST_SERVICE_ACCOUNT_KEY = '{"kty":"EC","x":"B4RM9mtp-idNcnH_zgjOcj6wgA43omZjybDzJgkcbnk","y":"AKtCyTJEW80hQrpymzg8OqxEa1fAFz-ks_kHn8Nh3do","crv":"P-256","d":"kZKyxOqir2vzv7e_tKXa3zbC750R9t1Ud6JbA8eq4WA"}';
/** An AES-256 key made for the tests only: encryption at rest seals secrets with it. */
const TEST_ENCRYPTION_KEYS = "test-key:OGlX8zuKsmkCp0grd7Sd+X1cLsbEaVmgnHTgp5UILEM=";

/** Suites that join real (containerd) nodes in the host's network namespace. */
const HOST_NODE_SUITES = ["test/e2e/node-agent-cri.test.ts", "test/e2e/node-tunnel-cri.test.ts", "test/e2e/node-exec-cri.test.ts", "test/e2e/node-portforward-cri.test.ts", "test/e2e/node-failover.test.ts", "test/e2e/services.test.ts", "test/e2e/services-nftables.test.ts", "test/e2e/loadbalancer.test.ts", "test/e2e/services-faults.test.ts", "test/e2e/services-two-nodes.test.ts", "test/e2e/metrics-cri.test.ts"];

export default defineConfig({
  test: {
    projects: [
      {
        // Binary test fixtures (protobuf bodies kubectl sent), imported as `?inline` data URLs.
        assetsInclude: ["**/*.pb"],
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { ADMIN_TOKEN_SHA256: TEST_ADMIN_TOKEN_SHA256, SERVICE_ACCOUNT_KEY: TEST_SERVICE_ACCOUNT_KEY, WATCH_PROGRESS_NOTIFY_SECONDS: "1", ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS, KUBE_SCHEDULER_ENABLED: "false", KUBE_CONTROLLER_MANAGER_ENABLED: "false" } },
          }),
        ],
        test: {
          name: "workerd",
          include: ["worker/**/*.test.ts", "durable-objects/**/*.test.ts", "lib/**/*.test.ts"],
          // The first request of a file starts workerd and loads the bundle: seconds on this machine.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "node",
          include: ["test/**/*.test.ts", "scripts/**/*.test.ts", "bench/**/*.test.ts", "etcd-bridge/**/*.test.ts", "node-agent/**/*.test.ts"],
          exclude: HOST_NODE_SUITES,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        // Real nodes in the host's own network namespace: each runs a cri agent whose service proxy
        // owns the EDGEPLANE-* iptables chains and the DNS port there (one per host, as kube-proxy),
        // so these suites run one after another.
        test: {
          name: "host",
          include: HOST_NODE_SUITES,
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
