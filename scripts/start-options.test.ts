// npm start serves the cluster it is named (`--cluster NAME` or CLUSTER_NAME), so a snapshot
// restored into a new cluster name can be served locally; a bad name or port stops it with a reason.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startControlPlane } from "./dev-server.ts";
import { startOptions, startVars } from "./start-options.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeplane-start-options-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm start options", () => {
  it("takes the cluster from --cluster, else CLUSTER_NAME, else leaves wrangler.toml's", () => {
    expect(startOptions(["--cluster", "restored"], { CLUSTER_NAME: "other" })).toEqual({ port: 8787, cluster: "restored" });
    expect(startOptions([], { CLUSTER_NAME: "other", PORT: "9443" })).toEqual({ port: 9443, cluster: "other" });
    expect(startOptions([], {})).toEqual({ port: 8787, cluster: undefined });
    expect(startVars(startOptions([], {}))).toEqual({});
  });

  it("refuses a name the admin endpoints would refuse, an unknown flag and a bad port", () => {
    expect(() => startOptions(["--cluster", "../x"], {})).toThrow(`"../x" is not a cluster name`);
    expect(() => startOptions([], { CLUSTER_NAME: "-lead" })).toThrow(`"-lead" is not a cluster name`);
    expect(() => startOptions(["--clustr", "a"], {})).toThrow(/Unknown option '--clustr'/);
    expect(() => startOptions([], { PORT: "http" })).toThrow(`PORT="http" is not a TCP port`);
  });

  it("a control plane started with the named cluster serves that cluster's store", async () => {
    const vars = startVars(startOptions(["--cluster", "restored"], {}));
    const plane = await startControlPlane({ stateDir: join(dir, "state"), vars, readinessPath: "/livez" });
    try {
      const answer = await fetch(`${plane.url}/etcd/cluster`, { headers: { Authorization: `Bearer ${plane.token}` } });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { cluster: string }).cluster).toBe("restored");
    } finally {
      await plane.stop();
    }
  });
});
