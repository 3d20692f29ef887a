// The busybox and pause images built from busybox-static, read back with the system's tar.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BUSYBOX, PAUSE, busyboxLayer, findBusybox, ociArchive } from "./oci-image.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeplane-image-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const layer = busyboxLayer(findBusybox());
const sha256 = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

function extract(archive: Buffer, name: string): string {
  const folder = mkdtempSync(join(dir, `${name}-`));
  writeFileSync(join(folder, "archive.tar"), archive);
  execFileSync("tar", ["-xf", "archive.tar"], { cwd: folder });
  return folder;
}

describe("busybox image", () => {
  it("has busybox, a link per applet, users and /tmp, owned by root", () => {
    const listing = execFileSync("tar", ["-tvf", "-"], { input: layer, encoding: "utf8" });
    expect(listing).toMatch(/^-rwxr-xr-x root\/root +\d+ 1970-01-01 00:00 bin\/busybox$/m);
    expect(listing).toMatch(/^lrwxrwxrwx root\/root +0 1970-01-01 00:00 bin\/sh -> busybox$/m);
    expect(listing).toMatch(/ bin\/httpd -> busybox$/m);
    expect(listing).toMatch(/^drwxrwxrwt root\/root +0 1970-01-01 00:00 tmp\/$/m);
    expect(listing).toMatch(/ etc\/passwd$/m);
  });

  it("is the same bytes every time", () => {
    expect(sha256(busyboxLayer(findBusybox()))).toBe(sha256(layer));
  });

  it("is an OCI layout whose index names the image and whose blobs match their digests", () => {
    const folder = extract(ociArchive(BUSYBOX, layer), "busybox");
    const index = JSON.parse(readFileSync(join(folder, "index.json"), "utf8"));
    expect(JSON.parse(readFileSync(join(folder, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations["io.containerd.image.name"])).toEqual(["docker.io/library/busybox:latest"]);
    const blob = (digest: string) => readFileSync(join(folder, "blobs/sha256", digest.slice("sha256:".length)));
    const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
    const config = JSON.parse(blob(manifest.config.digest).toString());
    expect(sha256(blob(manifest.layers[0].digest))).toBe(manifest.layers[0].digest);
    expect(config.rootfs.diff_ids).toEqual([sha256(layer)]);
    expect(config.config.Cmd).toEqual(["sh"]);
  });

  it("makes a pause image whose process sleeps forever", () => {
    const folder = extract(ociArchive(PAUSE, layer), "pause");
    const index = JSON.parse(readFileSync(join(folder, "index.json"), "utf8"));
    const blob = (digest: string) => readFileSync(join(folder, "blobs/sha256", digest.slice("sha256:".length)));
    const config = JSON.parse(blob(JSON.parse(blob(index.manifests[0].digest).toString()).config.digest).toString());
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations["io.containerd.image.name"])).toEqual(["registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.6"]);
    expect(config.config.Entrypoint).toEqual(["/bin/sleep", "2147483647"]);
  });

  it("says how to get busybox when it is missing", () => {
    expect(() => findBusybox(["/nonexistent/busybox"])).toThrow("busybox not found at /nonexistent/busybox: install busybox-static (apt-get install busybox-static)");
  });
});
