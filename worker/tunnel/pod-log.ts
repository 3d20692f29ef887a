// pods/log: kube-apiserver's LogREST. The options are validated and the container chosen as kube
// does (the only one, or the kubectl.kubernetes.io/default-container annotation's), then the log is
// streamed from the pod's node through its tunnel; the agent reads the runtime's CRI log files.
import type { Pod } from "kubernetes-types/core/v1";
import { apiErrors, type StatusCause } from "../../lib/k8s/status.ts";
import type { LogStreamHeader } from "../../lib/tunnel/streams.ts";
import type { Context } from "hono";
import type { AppEnv } from "../context.ts";
import type { RegistryStore } from "../registry/store.ts";
import { openNodeStream } from "./node-tunnel.ts";

const DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container";

/** PodLogOptions as query parameters, parsed and validated (ValidatePodLogOptions). */
export function podLogOptions(name: string, query: Record<string, string>, now = Date.now()): Omit<LogStreamHeader, "type" | "namespace" | "pod" | "uid" | "container"> {
  const causes: StatusCause[] = [];
  const int = (key: string): number | undefined => {
    const raw = query[key];
    if (raw === undefined || raw === "") return undefined;
    if (!/^-?\d+$/.test(raw)) throw apiErrors.badRequest(`${key}: strconv.ParseInt: parsing ${JSON.stringify(raw)}: invalid syntax`);
    return Number(raw);
  };
  const bool = (key: string) => query[key] !== undefined && query[key] !== "false" && query[key] !== "0";
  const tailLines = int("tailLines");
  const limitBytes = int("limitBytes");
  const sinceSeconds = int("sinceSeconds");
  let sinceTime = query.sinceTime || undefined;
  if (sinceTime !== undefined && Number.isNaN(Date.parse(sinceTime))) throw apiErrors.badRequest(`sinceTime: parsing time ${JSON.stringify(sinceTime)} as "2006-01-02T15:04:05Z07:00": cannot parse`);
  if (tailLines !== undefined && tailLines < 0) causes.push({ reason: "FieldValueInvalid", field: "tailLines", message: `Invalid value: ${tailLines}: must be greater than or equal to 0` });
  if (limitBytes !== undefined && limitBytes < 1) causes.push({ reason: "FieldValueInvalid", field: "limitBytes", message: `Invalid value: ${limitBytes}: must be greater than 0` });
  if (sinceSeconds !== undefined && sinceTime !== undefined) causes.push({ reason: "FieldValueForbidden", field: "", message: "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified" });
  if (sinceSeconds !== undefined && sinceSeconds < 1) causes.push({ reason: "FieldValueInvalid", field: "sinceSeconds", message: `Invalid value: ${sinceSeconds}: must be greater than 0` });
  if (causes.length) throw apiErrors.invalid("", "PodLogOptions", name, causes);
  if (sinceSeconds !== undefined) sinceTime = new Date(now - sinceSeconds * 1000).toISOString();
  return { follow: bool("follow"), previous: bool("previous"), timestamps: bool("timestamps"), sinceTime, tailLines, limitBytes };
}

/** Which container's log: the one asked for, else the annotated default, else the only one. */
export function logContainer(pod: Pod, asked: string | undefined): string {
  const name = pod.metadata?.name ?? "";
  const spec = pod.spec;
  const names = (list?: { name: string }[]) => (list ?? []).map((c) => c.name);
  const all = [...names(spec?.containers), ...names(spec?.initContainers), ...names(spec?.ephemeralContainers)];
  if (!asked) {
    const annotated = pod.metadata?.annotations?.[DEFAULT_CONTAINER];
    if (annotated && names(spec?.containers).includes(annotated)) return annotated;
    if (spec?.containers?.length === 1) return spec.containers[0]!.name;
    let message = `a container name must be specified for pod ${name}, choose one of: [${names(spec?.containers).join(" ")}]`;
    if (spec?.initContainers?.length) message += ` or one of the init containers: [${names(spec.initContainers).join(" ")}]`;
    if (spec?.ephemeralContainers?.length) message += ` or one of the ephemeral containers: [${names(spec.ephemeralContainers).join(" ")}]`;
    throw apiErrors.badRequest(message);
  }
  if (!all.includes(asked)) throw apiErrors.badRequest(`container ${asked} is not valid for pod ${name}`);
  return asked;
}

/** GET pods/{name}/log (a subresource handler: the pods store and the target come from the generic handlers). */
export async function servePodLog({ c, target, store }: { c: Context<AppEnv>; target: { namespace?: string; name: string }; store: RegistryStore }): Promise<Response> {
  const pod = (await store.get(target.namespace, target.name)) as Pod;
  const options = podLogOptions(target.name, c.req.query());
  const container = logContainer(pod, c.req.query("container"));
  const node = pod.spec?.nodeName;
  if (!node) throw apiErrors.badRequest(`pod ${target.name} does not have a host assigned`);
  const header: LogStreamHeader = { type: "log", namespace: target.namespace!, pod: target.name, uid: pod.metadata!.uid!, container, ...options };
  const { body } = await openNodeStream(c.env, node, header);
  // identity: a compressed answer would hold a followed log's lines back until the compressor's buffer fills.
  return new Response(body, { status: 200, headers: { "Content-Type": "text/plain", "Content-Encoding": "identity" } });
}
