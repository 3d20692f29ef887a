// Lifecycle hooks (postStart, preStop) as the kubelet runs them: exec in the container, an HTTP GET
// to the pod, or a sleep; the answer is the error message the kubelet would put in its
// FailedPostStartHook / FailedPreStopHook event, or undefined when the hook succeeded.
import type { Container, LifecycleHandler } from "kubernetes-types/core/v1";
import type { CriClient } from "./client.ts";

export interface HookTarget {
  client: CriClient;
  containerId: string;
  container?: Container;
  podIP?: string;
}

export async function runHook(handler: LifecycleHandler, target: HookTarget, timeoutSeconds: number): Promise<string | undefined> {
  if (handler.exec?.command) {
    try {
      const result = await target.client.execSync(target.containerId, handler.exec.command, timeoutSeconds);
      if (result.exit_code === 0) return undefined;
      const output = Buffer.concat([result.stdout, result.stderr]).toString("utf8");
      return `Exec lifecycle hook (${JSON.stringify(handler.exec.command)}) for Container "${target.container?.name ?? target.containerId}" failed - error: command '${handler.exec.command.join(" ")}' exited with ${result.exit_code}: ${output}, message: "${output}"`;
    } catch (error) {
      return (error as Error).message;
    }
  }
  if (handler.httpGet) return httpGetHook(handler.httpGet, target, timeoutSeconds);
  if (handler.sleep) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(handler.sleep!.seconds, timeoutSeconds) * 1000));
    return undefined;
  }
  return undefined;
}

async function httpGetHook(get: NonNullable<LifecycleHandler["httpGet"]>, target: HookTarget, timeoutSeconds: number): Promise<string | undefined> {
  const port = typeof get.port === "number" ? get.port : target.container?.ports?.find((p) => p.name === get.port)?.containerPort ?? Number(get.port);
  const host = get.host || target.podIP;
  if (!host || !port) return `failed to find networking container of pod for httpGet hook on port ${get.port}`;
  const scheme = (get.scheme ?? "HTTP").toLowerCase();
  const url = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}${get.path?.startsWith("/") ? get.path : `/${get.path ?? ""}`}`;
  try {
    const response = await fetch(url, { headers: Object.fromEntries((get.httpHeaders ?? []).map((h) => [h.name, h.value])), signal: AbortSignal.timeout(timeoutSeconds * 1000) });
    await response.arrayBuffer();
    if (response.status >= 200 && response.status < 400) return undefined;
    return `HTTP lifecycle hook (${get.path ?? "/"}) for Container "${target.container?.name ?? target.containerId}" failed - error: received non-2xx response: ${response.status}`;
  } catch (error) {
    return `HTTP lifecycle hook (${get.path ?? "/"}) for Container "${target.container?.name ?? target.containerId}" failed - error: ${(error as Error).message}`;
  }
}
