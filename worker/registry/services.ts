// Service address allocation, as kube-apiserver's allocators do it: a ClusterIP from the service
// CIDR and NodePorts from 30000–32767, each claimed by creating a key in the store, so two
// concurrent creates can never get the same one. Headless services (clusterIP: None) get none.
import { apiErrors, type StatusCause } from "../../lib/k8s/status.ts";
import type { ObjectStorage } from "../storage/object-storage.ts";
import type { KubeObject } from "./types.ts";

const NODE_PORT_MIN = 30000;
const NODE_PORT_MAX = 32767;
export const DEFAULT_SERVICE_CIDR = "10.96.0.0/12";

const ipKey = (ip: string) => `/registry/ranges/serviceips/${ip}`;
const portKey = (port: number) => `/registry/ranges/servicenodeports/${port}`;

export interface Cidr {
  base: number;
  size: number;
}

export function parseCidr(text: string): Cidr {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(text.trim());
  if (!match) throw new Error(`SERVICE_CIDR ${JSON.stringify(text)} is not an IPv4 CIDR`);
  const [a, b, c, d, bits] = match.slice(1).map(Number) as [number, number, number, number, number];
  const size = 2 ** (32 - bits);
  const ip = ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
  return { base: (ip & ~(size - 1)) >>> 0, size };
}

export function ipString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function ipNumber(ip: string): number | undefined {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

/** The first address of the range is the `kubernetes` service's, as in kube. */
export function kubernetesServiceIP(cidr: Cidr): string {
  return ipString(cidr.base + 1);
}

/** The tenth address is the cluster DNS's (the kube-dns Service), as kubeadm gives it. */
export function clusterDNSServiceIP(cidr: Cidr): string {
  return ipString(cidr.base + 10);
}

async function claim(storage: ObjectStorage, key: string, owner: KubeObject): Promise<boolean> {
  const outcome = await storage.create(key, { owner: `${owner.metadata?.namespace}/${owner.metadata?.name}` });
  return outcome.ok;
}

async function release(storage: ObjectStorage, key: string): Promise<void> {
  const held = await storage.get(key);
  if (held) await storage.delete(key, held.modRevision);
}

/** Claims the addresses a new service asks for or needs; returns what to release if its create fails. */
export async function allocateServiceAddresses(storage: ObjectStorage, svc: KubeObject, cidr: Cidr): Promise<string[]> {
  const claimed: string[] = [];
  const spec = svc.spec;
  const causes: StatusCause[] = [];
  try {
    if (spec.type !== "ExternalName" && spec.clusterIP !== "None") {
      if (spec.clusterIP) {
        const n = ipNumber(spec.clusterIP);
        if (n === undefined || n <= cidr.base || n >= cidr.base + cidr.size - 1) {
          causes.push({ reason: "FieldValueInvalid", field: "spec.clusterIPs", message: `Invalid value: ${JSON.stringify([spec.clusterIP])}: failed to allocate IP ${spec.clusterIP}: the provided IP (${spec.clusterIP}) is not in the valid range. The range of valid IPs is ${ipString(cidr.base)}/${32 - Math.log2(cidr.size)}` });
        } else if (!(await claim(storage, ipKey(spec.clusterIP), svc))) {
          causes.push({ reason: "FieldValueInvalid", field: "spec.clusterIPs", message: `Invalid value: ${JSON.stringify([spec.clusterIP])}: failed to allocate IP ${spec.clusterIP}: provided IP is already allocated` });
        } else claimed.push(ipKey(spec.clusterIP));
      } else {
        const ip = await claimRandom(storage, svc, cidr.size - 3, (i) => ipKey(ipString(cidr.base + 2 + i)));
        if (!ip) throw apiErrors.internal("failed to allocate a serviceIP: range is full");
        claimed.push(ip);
        spec.clusterIP = ip.slice(ip.lastIndexOf("/") + 1);
      }
      if (spec.clusterIP) spec.clusterIPs = [spec.clusterIP];
    }
    if (spec.type === "NodePort" || spec.type === "LoadBalancer") {
      for (const [i, port] of (spec.ports ?? []).entries()) {
        if (port.nodePort) {
          if (port.nodePort < NODE_PORT_MIN || port.nodePort > NODE_PORT_MAX) {
            causes.push({ reason: "FieldValueInvalid", field: `spec.ports[${i}].nodePort`, message: `Invalid value: ${port.nodePort}: provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}` });
          } else if (!(await claim(storage, portKey(port.nodePort), svc))) {
            causes.push({ reason: "FieldValueInvalid", field: `spec.ports[${i}].nodePort`, message: `Invalid value: ${port.nodePort}: provided port is already allocated` });
          } else claimed.push(portKey(port.nodePort));
        } else {
          const key = await claimRandom(storage, svc, NODE_PORT_MAX - NODE_PORT_MIN + 1, (j) => portKey(NODE_PORT_MIN + j));
          if (!key) throw apiErrors.internal("failed to allocate a nodePort: range is full");
          claimed.push(key);
          port.nodePort = Number(key.slice(key.lastIndexOf("/") + 1));
        }
      }
    }
    if (causes.length) throw apiErrors.invalid("", "Service", svc.metadata?.name ?? "", causes);
    return claimed;
  } catch (e) {
    await releaseAll(storage, claimed);
    throw e;
  }
}

/** Random probing: cheap while the range is sparse, which it nearly always is. */
async function claimRandom(storage: ObjectStorage, svc: KubeObject, size: number, keyAt: (i: number) => string): Promise<string | undefined> {
  const start = crypto.getRandomValues(new Uint32Array(1))[0]! % size;
  for (let tries = 0; tries < Math.min(size, 64); tries++) {
    const key = keyAt((start + tries * 7919) % size);
    if (await claim(storage, key, svc)) return key;
  }
  return undefined;
}

export async function releaseAll(storage: ObjectStorage, keys: string[]): Promise<void> {
  await Promise.all(keys.map((key) => release(storage, key)));
}

/** The keys a stored service holds, to release when it is deleted. */
export function heldAddresses(svc: KubeObject): string[] {
  const keys: string[] = [];
  if (svc.spec?.clusterIP && svc.spec.clusterIP !== "None") keys.push(ipKey(svc.spec.clusterIP));
  for (const port of svc.spec?.ports ?? []) if (port.nodePort) keys.push(portKey(port.nodePort));
  return keys;
}
