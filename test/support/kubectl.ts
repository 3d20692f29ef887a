// The e2e suites' kubectl harness: the kubectl binaries installed here, a control plane of their
// own over HTTPS with a kubeconfig as `npm start` writes it, and kubectl runs that report rather
// than throw (or throw with kubectl's own words).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { kubeconfig, startControlPlane, type ControlPlane, type ControlPlaneOptions } from "../../scripts/dev-server.ts";

const run = promisify(execFile);

/** Every kubectl installed here: 1.27–1.33 and /usr/bin/kubectl (which dispatches on the server version). */
export const KUBECTLS = [
  ...[27, 28, 29, 30, 31, 32, 33].map((minor) => `/usr/lib/google-cloud-sdk/bin/kubectl.1.${minor}`),
  "/usr/bin/kubectl",
].filter((path) => existsSync(path));

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface KubectlHarness {
  plane: ControlPlane;
  dir: string;
  kubeconfigPath: string;
  /** The environment kubectl runs with: this cluster's kubeconfig, a HOME of its own. */
  env(): NodeJS.ProcessEnv;
  kubectl(binary: string, ...args: string[]): Promise<KubectlResult>;
  /** kubectl's stdout, or an error with its stderr. */
  ok(binary: string, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startKubectlHarness(prefix: string, options: ControlPlaneOptions = {}, timeoutMs = 60_000): Promise<KubectlHarness> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const plane = await startControlPlane({ stateDir: join(dir, "state"), tlsDir: join(dir, "tls"), ...options });
  const kubeconfigPath = join(dir, "kubeconfig");
  writeFileSync(kubeconfigPath, kubeconfig(plane.url, plane.token, plane.caPem));
  const env = () => ({ ...process.env, KUBECONFIG: kubeconfigPath, HOME: dir });
  const kubectl = async (binary: string, ...args: string[]): Promise<KubectlResult> => {
    try {
      const { stdout, stderr } = await run(binary, args, { env: env(), timeout: timeoutMs });
      return { stdout, stderr, code: 0 };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; code?: number };
      return { stdout: err.stdout ?? "", stderr: err.stderr ?? "", code: err.code ?? 1 };
    }
  };
  return {
    plane, dir, kubeconfigPath, env, kubectl,
    async ok(binary, ...args) {
      const res = await kubectl(binary, ...args);
      if (res.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${res.code}): ${res.stderr}`);
      return res.stdout;
    },
    async stop() {
      await plane.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
