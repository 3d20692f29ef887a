// Lifecycle hooks (postStart, preStop) as the kubelet runs them: exec in the container, an HTTP GET
// to the pod, or a sleep; the answer is the message the kubelet puts in its FailedPostStartHook /
// FailedPreStopHook event, or undefined when the hook succeeded.
import type { ContainerPort, LifecycleHandler } from "kubernetes-types/core/v1";
import type { CriClient } from "./client.ts";

export interface HookTarget {
  client: CriClient;
  containerId: string;
  containerName: string;
  /** The pod as format.Pod writes it: "name_namespace(uid)". */
  pod: string;
  /** The container's ports, for an httpGet hook naming its port. */
  ports?: ContainerPort[];
  podIP?: string;
}

export async function runHook(handler: LifecycleHandler, target: HookTarget, timeoutSeconds: number): Promise<string | undefined> {
  if (handler.exec?.command) return execHook(handler.exec.command, target, timeoutSeconds);
  if (handler.httpGet) return httpGetHook(handler.httpGet, target, timeoutSeconds);
  if (handler.sleep) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(handler.sleep!.seconds, timeoutSeconds) * 1000));
  }
  return undefined;
}

async function execHook(command: string[], target: HookTarget, timeoutSeconds: number): Promise<string | undefined> {
  let error: string;
  let output = "";
  try {
    const result = await target.client.execSync(target.containerId, command, timeoutSeconds);
    if (result.exit_code === 0) return undefined;
    output = Buffer.concat([result.stdout, result.stderr]).toString("utf8");
    error = `command '${command.join(" ")}' exited with ${result.exit_code}: ${result.stderr.toString("utf8")}`;
  } catch (e) {
    error = (e as Error).message;
  }
  return `Exec lifecycle hook ([${command.join(" ")}]) for Container "${target.containerName}" in Pod "${target.pod}" failed - error: ${error}, message: ${JSON.stringify(output)}`;
}

async function httpGetHook(get: NonNullable<LifecycleHandler["httpGet"]>, target: HookTarget, timeoutSeconds: number): Promise<string | undefined> {
  const failed = (error: string) => `HTTP lifecycle hook (${get.path ?? ""}) for Container "${target.containerName}" in Pod "${target.pod}" failed - error: ${error}`;
  const port = typeof get.port === "number" ? get.port : target.ports?.find((p) => p.name === get.port)?.containerPort ?? Number(get.port);
  const host = get.host || target.podIP;
  if (!host || !port) return failed(`cannot find the pod's address or port ${get.port}`);
  const scheme = (get.scheme ?? "HTTP").toLowerCase();
  const url = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}${get.path?.startsWith("/") ? get.path : `/${get.path ?? ""}`}`;
  try {
    const response = await fetch(url, { headers: Object.fromEntries((get.httpHeaders ?? []).map((h) => [h.name, h.value])), signal: AbortSignal.timeout(timeoutSeconds * 1000) });
    // As the kubelet's: any answer is success, whatever its status; only no answer fails.
    await response.arrayBuffer();
    return undefined;
  } catch (error) {
    return failed((error as Error).message);
  }
}
