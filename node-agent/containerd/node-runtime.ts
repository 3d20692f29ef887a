// Everything a host needs before its pods run, in one call: the CNI plugins found, the pod network
// written for the node's podCIDR, a private containerd started on it, and the busybox and pause
// images built from busybox-static and imported (there is no registry to pull them from).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findCniBinDir, writePodNetworkConfig } from "../cni/config.ts";
import { BUSYBOX, PAUSE, busyboxLayer, findBusybox, ociArchive } from "../image/oci-image.ts";
import { Containerd } from "./containerd.ts";

export interface NodeRuntimeOptions {
  /** The agent's folder for containerd, the CNI config and address leases. */
  dir: string;
  podCIDR: string;
  /** The bridge interface (default "edgeplane0"). */
  bridge?: string;
  /** CNI plugin folders to look in (default /usr/lib/cni, /opt/cni/bin). */
  cniBinDirs?: string[];
}

export interface NodeRuntime {
  containerd: Containerd;
  /** The images imported: the agent treats them as pulled. */
  images: string[];
}

export async function startNodeRuntime(options: NodeRuntimeOptions): Promise<NodeRuntime> {
  const cniBinDir = findCniBinDir(options.cniBinDirs);
  const busybox = findBusybox();
  const cniConfDir = join(options.dir, "net.d");
  writePodNetworkConfig(cniConfDir, { podCIDR: options.podCIDR, bridge: options.bridge, ipamDataDir: join(options.dir, "ipam") });
  const containerd = await Containerd.start({ dir: join(options.dir, "containerd"), cniBinDir, cniConfDir, sandboxImage: PAUSE.names[0] });
  try {
    const layer = busyboxLayer(busybox);
    const archives = join(options.dir, "images");
    mkdirSync(archives, { recursive: true });
    for (const [file, spec] of [["busybox.tar", BUSYBOX], ["pause.tar", PAUSE]] as const) {
      writeFileSync(join(archives, file), ociArchive(spec, layer));
      await containerd.importImage(join(archives, file));
    }
    rmSync(archives, { recursive: true, force: true });
  } catch (error) {
    await containerd.stop();
    throw error;
  }
  return { containerd, images: [...BUSYBOX.names, ...PAUSE.names] };
}
