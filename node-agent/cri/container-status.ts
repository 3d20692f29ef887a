// A CRI container status in the words of core/v1 ContainerState: waiting, running since, or
// terminated with its exit code, reason, times and the message the container left (its
// termination message file, or the end of its log when it asks for that on failure).
import { readFileSync } from "node:fs";
import type { ContainerState } from "../runtime/runtime.ts";
import type { ContainerStatus } from "./client.ts";
import { TERMINATION_MESSAGE_PATH, TERMINATION_MESSAGE_POLICY } from "./labels.ts";

const TERMINATION_MESSAGE_LIMIT = 4096;
const FALLBACK_LOG_LINES = 80;
const FALLBACK_LOG_BYTES = 2048;

/** CRI times are nanoseconds since the epoch. */
export function nanosToMs(nanos: number): number {
  return Math.floor(nanos / 1e6);
}

/** RFC 3339 at second precision, as metav1.Time serializes. */
function timestamp(nanos: number): string {
  return new Date(nanosToMs(nanos)).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function containerState(status: ContainerStatus): ContainerState {
  switch (status.state) {
    case "CONTAINER_RUNNING":
      return { running: { startedAt: timestamp(status.started_at) } };
    case "CONTAINER_EXITED": {
      const message = status.message || terminationMessage(status);
      return {
        terminated: {
          exitCode: status.exit_code,
          reason: status.reason || (status.exit_code === 0 ? "Completed" : "Error"),
          ...(message ? { message } : {}),
          ...(status.started_at ? { startedAt: timestamp(status.started_at) } : {}),
          finishedAt: timestamp(status.finished_at),
          containerID: `containerd://${status.id}`,
        },
      };
    }
    case "CONTAINER_CREATED":
      return { waiting: { reason: "ContainerCreating" } };
    default:
      return { waiting: { reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was terminated" } };
  }
}

/**
 * What the container wrote to its termination message file (at most 4 KiB), or, when it failed
 * with FallbackToLogsOnError and wrote nothing, the end of its log (80 lines, 2 KiB).
 */
function terminationMessage(status: ContainerStatus): string {
  const path = status.annotations[TERMINATION_MESSAGE_PATH];
  const mount = path ? status.mounts?.find((m) => m.container_path === path) : undefined;
  const written = mount ? readPrefix(mount.host_path, TERMINATION_MESSAGE_LIMIT) : "";
  if (written || status.exit_code === 0 || status.annotations[TERMINATION_MESSAGE_POLICY] !== "FallbackToLogsOnError") return written;
  return logTail(status.log_path, FALLBACK_LOG_LINES, FALLBACK_LOG_BYTES);
}

function readPrefix(path: string, limit: number): string {
  try {
    return readFileSync(path).subarray(0, limit).toString("utf8");
  } catch {
    return "";
  }
}

/** The last lines of a CRI log ("<time> <stream> <F|P> <text>" per line), as the container wrote them. */
function logTail(path: string, lines: number, bytes: number): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return "";
  }
  let out = "";
  for (const line of text.split("\n").filter(Boolean).slice(-lines)) {
    const [, , tag, ...rest] = line.split(" ");
    out += rest.join(" ") + (tag === "P" ? "" : "\n");
  }
  return Buffer.from(out).subarray(-bytes).toString("utf8");
}
