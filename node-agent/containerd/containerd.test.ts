// The agent's private containerd: its config, and the errors when it cannot start.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Containerd, containerdConfig } from "./containerd.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeplane-containerd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("private containerd", () => {
  it("keeps its root, state and socket in its folder, with CRI on a local sandbox image and the agent's CNI folders", () => {
    const config = containerdConfig({ dir: "/var/lib/edgeplane-agent/containerd", cniBinDir: "/usr/lib/cni", cniConfDir: "/var/lib/edgeplane-agent/net.d", sandboxImage: "registry.k8s.io/pause:3.9" });
    expect(config).toContain('root = "/var/lib/edgeplane-agent/containerd/root"');
    expect(config).toContain('state = "/var/lib/edgeplane-agent/containerd/state"');
    expect(config).toContain('[grpc]\n  address = "/var/lib/edgeplane-agent/containerd/containerd.sock"');
    expect(config).toContain('[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.9"\n  restrict_oom_score_adj = true');
    expect(config).toContain('bin_dir = "/usr/lib/cni"\n    conf_dir = "/var/lib/edgeplane-agent/net.d"');
  });

  it("says so when the binary is missing", async () => {
    await expect(Containerd.start({ dir: join(dir, "missing"), cniBinDir: "/usr/lib/cni", cniConfDir: join(dir, "net.d"), binary: "/nonexistent/containerd" })).rejects.toThrow(/^cannot run \/nonexistent\/containerd: spawn \/nonexistent\/containerd ENOENT$/);
  });

  it("says why when containerd exits at start, with the end of its log", async () => {
    // `false` exits at once with status 1, as containerd does with a config it cannot read.
    await expect(Containerd.start({ dir: join(dir, "exits"), cniBinDir: "/usr/lib/cni", cniConfDir: join(dir, "net.d"), binary: "false" })).rejects.toThrow(`containerd exited with 1 (log: ${join(dir, "exits", "containerd.log")}): (nothing logged)`);
  });
});
