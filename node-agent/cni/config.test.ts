// The pod network's CNI configuration and the plugin lookup.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findCniBinDir, podNetworkConflist, writePodNetworkConfig } from "./config.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "edgeplane-cni-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("pod network conflist", () => {
  it("is a gateway bridge, host-local over the podCIDR and portmap: no per-pod masquerade rules, no second loopback", () => {
    expect(podNetworkConflist({ podCIDR: "10.244.3.0/24", ipamDataDir: "/var/lib/edgeplane/ipam" })).toEqual({
      cniVersion: "1.0.0",
      name: "edgeplane",
      plugins: [
        {
          type: "bridge",
          bridge: "edgeplane0",
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet: "10.244.3.0/24" }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: "/var/lib/edgeplane/ipam" },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    });
  });

  it("refuses a bridge name Linux would not take", () => {
    expect(() => podNetworkConflist({ podCIDR: "10.244.3.0/24", bridge: "a-very-long-bridge" })).toThrow("longer than 15 characters");
  });

  it("is the only network configuration in its folder", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "05-other.conflist"), "{}");
    const path = writePodNetworkConfig(dir, { podCIDR: "10.244.9.0/24" });
    expect(readdirSync(dir)).toEqual(["10-edgeplane.conflist"]);
    expect(JSON.parse(readFileSync(path, "utf8")).plugins[0].ipam.ranges).toEqual([[{ subnet: "10.244.9.0/24" }]]);
  });
});

describe("CNI plugin lookup", () => {
  function pluginDir(plugins: string[]): string {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    for (const plugin of plugins) {
      writeFileSync(join(dir, plugin), "#!/bin/sh\n");
      chmodSync(join(dir, plugin), 0o755);
    }
    return dir;
  }

  it("finds the first folder holding every plugin", () => {
    const partial = pluginDir(["bridge", "loopback"]);
    const full = pluginDir(["bridge", "host-local", "portmap", "loopback"]);
    expect(findCniBinDir([partial, full])).toBe(full);
  });

  it("names what is missing where, and the package to install", () => {
    const partial = pluginDir(["bridge", "loopback"]);
    expect(() => findCniBinDir([partial, "/nonexistent/cni"])).toThrow(
      `CNI plugins not found (${partial}: no host-local, portmap; /nonexistent/cni: no bridge, host-local, portmap, loopback): install containernetworking-plugins (apt-get install containernetworking-plugins)`,
    );
  });
});
