// Image references, default pull policies and pull-secret credentials, as the kubelet reads them.
import { describe, expect, it } from "vitest";
import { defaultPullPolicy, normalizeImage, pullAuth } from "./images.ts";

describe("image references", () => {
  it.each([
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:1.36", "docker.io/library/busybox:1.36"],
    ["library/busybox", "docker.io/library/busybox:latest"],
    ["bitnami/nginx:1.25", "docker.io/bitnami/nginx:1.25"],
    ["registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"],
    ["localhost:5000/app", "localhost:5000/app:latest"],
    ["localhost/app@sha256:abc", "localhost/app@sha256:abc"],
  ])("%s is %s", (image, full) => {
    expect(normalizeImage(image)).toBe(full);
  });

  it.each([
    ["busybox", "Always"],
    ["busybox:latest", "Always"],
    ["busybox:1.36", "IfNotPresent"],
    ["localhost:5000/app", "Always"],
    ["localhost:5000/app:v1", "IfNotPresent"],
    ["busybox@sha256:abc", "IfNotPresent"],
  ])("%s is pulled %s by default", (image, policy) => {
    expect(defaultPullPolicy(image)).toBe(policy);
  });
});

describe("pull secrets", () => {
  const dockerconfigjson = JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: Buffer.from("me:s3cr:et").toString("base64") }, "registry.example.com": { username: "robot", password: "pw" } } });

  it("gives the credential for the image's registry", () => {
    expect(pullAuth("busybox", [dockerconfigjson])).toEqual({ username: "me", password: "s3cr:et", server_address: "index.docker.io" });
    expect(pullAuth("registry.example.com/team/app:1", [dockerconfigjson])).toEqual({ username: "robot", password: "pw", server_address: "registry.example.com" });
  });

  it("gives none for other registries or unreadable secrets", () => {
    expect(pullAuth("quay.io/app", [dockerconfigjson, "not json"])).toBeUndefined();
  });
});
