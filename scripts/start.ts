// `npm start`: the control plane on this machine, served straight from workerd through Miniflare
// (`npm run start:wrangler`, or EDGEPLANE_DEV=wrangler, serves it under wrangler dev with live
// reload instead), state kept in .wrangler/state.
// The admin token is made on first start and kept in .edgeplane/admin-token (mode 0600); the
// Worker is given only its SHA-256. The key that signs service account tokens is made on first
// start too and kept in .edgeplane/service-account-key.jwk (mode 0600), so tokens outlive restarts,
// and so is the key that seals Secrets at rest (.edgeplane/encryption-keys). Once the control plane
// is up, one node joins it (scripts/local-node.ts): the node agent as a child process.
// `npm start -- --cluster NAME` (or CLUSTER_NAME=NAME) serves another cluster of the same state,
// such as one a snapshot was restored into (scripts/start-options.ts).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalNode } from "./local-node.ts";
import { START_USAGE, startOptions, startVars } from "./start-options.ts";
import { defaultEngine, kubeconfig, newAdminToken, newEncryptionKeys, newServiceAccountKey, PROJECT_ROOT, startControlPlane } from "./dev-server.ts";

let options;
try {
  options = startOptions(process.argv.slice(2), process.env);
} catch (e) {
  console.error(`npm start: ${(e as Error).message}\n${START_USAGE}`);
  process.exit(2);
}
const { port, cluster } = options;
const tokenFile = join(PROJECT_ROOT, ".edgeplane/admin-token");
if (!existsSync(tokenFile)) {
  mkdirSync(join(PROJECT_ROOT, ".edgeplane"), { recursive: true, mode: 0o700 });
  writeFileSync(tokenFile, newAdminToken() + "\n", { mode: 0o600 });
}
chmodSync(tokenFile, 0o600);
const token = readFileSync(tokenFile, "utf8").trim();
const keyFile = join(PROJECT_ROOT, ".edgeplane/service-account-key.jwk");
if (!existsSync(keyFile)) writeFileSync(keyFile, newServiceAccountKey() + "\n", { mode: 0o600 });
chmodSync(keyFile, 0o600);
const serviceAccountKey = readFileSync(keyFile, "utf8").trim();
const encryptionFile = join(PROJECT_ROOT, ".edgeplane/encryption-keys");
if (!existsSync(encryptionFile)) writeFileSync(encryptionFile, newEncryptionKeys() + "\n", { mode: 0o600 });
chmodSync(encryptionFile, 0o600);
const encryptionKeys = readFileSync(encryptionFile, "utf8").trim();
const engine = defaultEngine();

const plane = await startControlPlane({
  port, token, serviceAccountKey, encryptionKeys, engine, inheritOutput: true, tlsDir: join(PROJECT_ROOT, ".edgeplane/tls"),
  vars: startVars(options),
});
const kubeconfigFile = join(PROJECT_ROOT, ".edgeplane/kubeconfig");
writeFileSync(kubeconfigFile, kubeconfig(plane.url, token, plane.caPem), { mode: 0o600 });
console.log(`
edgeplane control plane is up at ${plane.url}, serving cluster ${cluster ?? "default"} (${engine === "workerd" ? "workerd through Miniflare" : "wrangler dev, reloading on source changes"})
  point kubectl at it:
    export KUBECONFIG=${kubeconfigFile}
    kubectl get namespaces
  admin token: in ${tokenFile}
  etcd gateway (admin only), e.g. list every key of the main shard like 'etcdctl get / --prefix --keys-only':
    curl -s --cacert .edgeplane/tls/serving.crt -H "Authorization: Bearer $(cat ${tokenFile})" ${plane.url}/etcd/shards/main/v3/kv/range \\
      -d '{"key":"AA==","range_end":"AA==","keys_only":true}'
Ctrl-C stops it; state stays in .wrangler/state. For live reload on source changes: npm run start:wrangler.
`);
await (await import("../etcd-bridge/local.ts")).startLocalEtcdBridge(plane);
const node = await startLocalNode(plane);
console.log(`node ${node.name} joined on the ${node.choice.runtime} runtime (${node.choice.why}); its log: ${node.logFile}
  kubectl run web --image=busybox -- httpd -f -p 8080   # ends Running on it
Ctrl-C stops the node too${node.choice.runtime === "cri" ? ": its pods' containers are killed and its containerd stopped (npm run agent -- cleanup --state-dir .edgeplane/agent removes its images, bridge and saved state as well)" : ""}.
`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void node.stop().then(() => plane.stop()).then(() => process.exit(0)));
}
plane.process.on("exit", (code) => process.exit(code ?? 0));
