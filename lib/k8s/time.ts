// Timestamps as Kubernetes writes them in objects: RFC 3339, UTC, whole seconds.

export function kubeTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}
