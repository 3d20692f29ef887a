// The node's pod network as CNI configuration: a bridge that is the pods' gateway, host-local
// addresses from the node's podCIDR, portmap for hostPorts; and where the CNI plugin binaries are
// (Debian: /usr/lib/cni, upstream: /opt/cni/bin). Each plugin in the chain runs on every sandbox
// start and stop, so the chain holds only what a pod needs: the pods' traffic out is masqueraded
// by one rule set for the node (masquerade.ts), not by the bridge's per-pod ipMasq rules, and the
// pod's loopback is brought up by containerd itself (its CRI runs the loopback plugin for every
// sandbox), not a second time in the chain.
import { accessSync, constants, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { applyPodMasquerade, type IptablesCommand } from "./masquerade.ts";

export const CNI_BIN_DIRS = ["/usr/lib/cni", "/opt/cni/bin"];
export const DEFAULT_BRIDGE = "edgeplane0";
/** The plugins the conflist names, and loopback, which containerd runs for every sandbox. */
export const REQUIRED_PLUGINS = ["bridge", "host-local", "portmap", "loopback"];

export interface PodNetworkOptions {
  podCIDR: string;
  /** The CNI network's name (default "edgeplane"). */
  name?: string;
  /** The bridge interface; at most 15 characters (default "edgeplane0"). */
  bridge?: string;
  /** Where host-local keeps its address leases (default: its own /var/lib/cni/networks). */
  ipamDataDir?: string;
}

export function podNetworkConflist(options: PodNetworkOptions): object {
  const bridge = options.bridge ?? DEFAULT_BRIDGE;
  if (bridge.length > 15) throw new Error(`bridge name ${bridge} is longer than 15 characters`);
  return {
    cniVersion: "1.0.0",
    name: options.name ?? "edgeplane",
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: options.podCIDR }]],
          routes: [{ dst: "0.0.0.0/0" }],
          ...(options.ipamDataDir ? { dataDir: options.ipamDataDir } : {}),
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

/**
 * Writes the conflist as the only configuration in `confDir` (containerd loads the first file by
 * name), atomically, so containerd never reads half a file.
 */
export function writePodNetworkConfig(confDir: string, options: PodNetworkOptions): string {
  mkdirSync(confDir, { recursive: true });
  const path = join(confDir, "10-edgeplane.conflist");
  for (const file of readdirSync(confDir)) {
    if (file !== "10-edgeplane.conflist" && /\.(conf|conflist|json)$/.test(file)) rmSync(join(confDir, file));
  }
  writeFileSync(`${path}.tmp`, JSON.stringify(podNetworkConflist(options), null, 2) + "\n");
  renameSync(`${path}.tmp`, path);
  return path;
}

/** A node's pod network before it knows its podCIDR: where the configuration goes and how it is set up. */
export interface PodNetwork {
  confDir: string;
  bridge?: string;
  ipamDataDir?: string;
}

/**
 * Sets up the pod network for `podCIDR`: the masquerade rules first, then the configuration,
 * which containerd picks up from the folder (so no pod starts before its traffic can leave).
 */
export async function writePodNetwork(network: PodNetwork, podCIDR: string, iptables?: IptablesCommand): Promise<string> {
  await applyPodMasquerade(network.bridge ?? DEFAULT_BRIDGE, podCIDR, iptables);
  return writePodNetworkConfig(network.confDir, { podCIDR, bridge: network.bridge, ipamDataDir: network.ipamDataDir });
}

/** The first folder holding every required plugin, or an error naming what is missing where. */
export function findCniBinDir(dirs = CNI_BIN_DIRS, plugins = REQUIRED_PLUGINS): string {
  const missing: string[] = [];
  for (const dir of dirs) {
    const absent = plugins.filter((plugin) => !isExecutable(join(dir, plugin)));
    if (absent.length === 0) return dir;
    missing.push(`${dir}: no ${absent.join(", ")}`);
  }
  throw new Error(`CNI plugins not found (${missing.join("; ")}): install containernetworking-plugins (apt-get install containernetworking-plugins)`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
