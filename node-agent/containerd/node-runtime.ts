// Everything a host needs before its pods run, in one call: the CNI plugins found, the pod network
// written for the node's podCIDR (now, or by the runtime once the node has one), a private
// containerd started on it, and the busybox and pause images built from busybox-static and
// imported (there is no registry to pull them from).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findCniBinDir, writePodNetwork, type PodNetwork } from "../cni/config.ts";
import { BUSYBOX, PAUSE, PAUSE_IMAGE, busyboxLayer, findBusybox, ociArchive } from "../image/oci-image.ts";
import { Containerd, importImage } from "./containerd.ts";

export interface NodeRuntimeOptions {
  /** The agent's folder for containerd, the CNI config and address leases. */
  dir: string;
  /** The node's spec.podCIDR; without it containerd reports its network not ready until CriRuntime.updatePodCIDR. */
  podCIDR?: string;
  /** The bridge interface (default "edgeplane0"). */
  bridge?: string;
  /** CNI plugin folders to look in (default /usr/lib/cni, /opt/cni/bin). */
  cniBinDirs?: string[];
}

export interface NodeRuntime {
  containerd: Containerd;
  /** The images imported: the agent treats them as pulled. */
  images: string[];
  /** Where the pod network's configuration goes and how it is set up, for CriRuntime's updatePodCIDR. */
  network: PodNetwork;
}

export async function startNodeRuntime(options: NodeRuntimeOptions): Promise<NodeRuntime> {
  const cniBinDir = findCniBinDir(options.cniBinDirs);
  const busybox = findBusybox();
  const network: PodNetwork = { confDir: join(options.dir, "net.d"), bridge: options.bridge, ipamDataDir: join(options.dir, "ipam") };
  mkdirSync(network.confDir, { recursive: true });
  if (options.podCIDR) await writePodNetwork(network, options.podCIDR);
  const containerd = await Containerd.start({ dir: join(options.dir, "containerd"), cniBinDir, cniConfDir: network.confDir, sandboxImage: PAUSE_IMAGE });
  try {
    const images = await importAgentImages(containerd.socket, join(options.dir, "images"), busybox);
    return { containerd, images, network };
  } catch (error) {
    await containerd.stop();
    throw error;
  }
}

/**
 * Builds the busybox and pause images and imports them into the containerd at `socket` (the
 * agent's own or the host's); answers their names. `workDir` holds the archives meanwhile.
 */
export async function importAgentImages(socket: string, workDir: string, busybox = findBusybox()): Promise<string[]> {
  const layer = busyboxLayer(busybox);
  mkdirSync(workDir, { recursive: true });
  try {
    for (const [file, spec] of [["busybox.tar", BUSYBOX], ["pause.tar", PAUSE]] as const) {
      writeFileSync(join(workDir, file), ociArchive(spec, layer));
      await importImage(socket, join(workDir, file));
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  return [...BUSYBOX.names, ...PAUSE.names];
}
