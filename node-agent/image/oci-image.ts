// Builds OCI image archives from the host's static busybox (Debian's busybox-static), so a node
// runs pods with no registry: `busybox` (docker.io/library/busybox:latest) and the sandbox
// ("pause") image, whose process only sleeps. `ctr image import` loads the archive.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { writeTar, type TarEntry } from "./tar.ts";

export const BUSYBOX_IMAGE = "docker.io/library/busybox:latest";
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.9";
export const BUSYBOX_PATHS = ["/bin/busybox", "/usr/bin/busybox"];

export interface ImageSpecification {
  /** Full reference names the archive carries ("docker.io/library/busybox:latest"). */
  names: string[];
  /** The image config's Entrypoint and Cmd. */
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
}

/** Both images the agent needs. */
export const BUSYBOX: ImageSpecification = { names: [BUSYBOX_IMAGE], cmd: ["sh"], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] };
/** Also under containerd 1.6's default sandbox image name, so a host's containerd with its stock config runs pods offline. */
export const PAUSE: ImageSpecification = { names: [PAUSE_IMAGE, "registry.k8s.io/pause:3.6"], entrypoint: ["/bin/sleep", "2147483647"], env: ["PATH=/bin"] };

export function findBusybox(paths = BUSYBOX_PATHS): string {
  for (const path of paths) {
    try {
      if (readFileSync(path).subarray(0, 4).toString("latin1") === "\x7fELF") return path;
    } catch {
      // Not there; try the next.
    }
  }
  throw new Error(`busybox not found at ${paths.join(" or ")}: install busybox-static (apt-get install busybox-static)`);
}

/** The image's one layer: busybox with a link per applet in /bin, /etc/passwd and /etc/group, /tmp. */
export function busyboxLayer(busyboxPath: string): Buffer {
  const applets = execFileSync(busyboxPath, ["--list"], { encoding: "utf8" }).split("\n").filter((a) => a && a !== "busybox");
  const entries: TarEntry[] = [
    { path: "bin/", type: "directory", mode: 0o755 },
    { path: "bin/busybox", type: "file", mode: 0o755, data: readFileSync(busyboxPath) },
    ...applets.sort().map((applet): TarEntry => ({ path: `bin/${applet}`, type: "symlink", mode: 0o777, linkTarget: "busybox" })),
    { path: "etc/", type: "directory", mode: 0o755 },
    { path: "etc/group", type: "file", mode: 0o644, data: Buffer.from("root:x:0:\nnobody:x:65534:\n") },
    { path: "etc/passwd", type: "file", mode: 0o644, data: Buffer.from("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n") },
    { path: "root/", type: "directory", mode: 0o700 },
    { path: "tmp/", type: "directory", mode: 0o1777 },
    { path: "var/", type: "directory", mode: 0o755 },
    { path: "var/www/", type: "directory", mode: 0o755 },
  ];
  return writeTar(entries);
}

function sha256(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function blobPath(digest: string): string {
  return `blobs/sha256/${digest.slice("sha256:".length)}`;
}

/** An OCI image layout archive of one image built over `layer`, tagged with every name. */
export function ociArchive(spec: ImageSpecification, layer: Buffer): Buffer {
  const config = Buffer.from(JSON.stringify({
    architecture: goArchitecture(process.arch),
    os: "linux",
    config: { Env: spec.env ?? [], ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}), ...(spec.cmd ? { Cmd: spec.cmd } : {}) },
    rootfs: { type: "layers", diff_ids: [sha256(layer)] },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(layer), size: layer.length }],
  }));
  const index = {
    schemaVersion: 2,
    manifests: spec.names.map((name) => ({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: sha256(manifest),
      size: manifest.length,
      annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name },
    })),
  };
  return writeTar([
    { path: "oci-layout", type: "file", mode: 0o644, data: Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })) },
    { path: "index.json", type: "file", mode: 0o644, data: Buffer.from(JSON.stringify(index)) },
    { path: "blobs/", type: "directory", mode: 0o755 },
    { path: "blobs/sha256/", type: "directory", mode: 0o755 },
    ...[layer, config, manifest].map((blob): TarEntry => ({ path: blobPath(sha256(blob)), type: "file", mode: 0o644, data: blob })),
  ]);
}

/** Node's process.arch in the words of OCI (GOARCH). */
function goArchitecture(arch: string): string {
  return ({ x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x" } as Record<string, string>)[arch] ?? arch;
}
