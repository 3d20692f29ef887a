// The root CA publisher: what kube-root-ca.crt holds and when it is rewritten; without a CA the
// controller manager's status says nothing is published (the workerd tests set no CLUSTER_CA_PEM;
// test/e2e/controllers-gc-namespaces.test.ts sees it published by a control plane that has one).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isCurrent, NO_CA_NOTE, rootCaConfigMap } from "./root-ca-publisher.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const description = rootCaConfigMap(CA).metadata!.annotations!;

describe("kube-root-ca.crt", () => {
  it("holds the CA under ca.crt with kube's description", () => {
    expect(rootCaConfigMap(CA)).toEqual({ metadata: { name: "kube-root-ca.crt", annotations: { "kubernetes.io/description": expect.stringContaining("verify the kube-apiserver") } }, data: { "ca.crt": CA } });
  });

  it.each([
    ["as published", { metadata: { annotations: description }, data: { "ca.crt": CA } }, true],
    ["with other annotations kept", { metadata: { annotations: { ...description, team: "a" } }, data: { "ca.crt": CA } }, true],
    ["another CA", { metadata: { annotations: description }, data: { "ca.crt": "other" } }, false],
    ["an extra key", { metadata: { annotations: description }, data: { "ca.crt": CA, extra: "x" } }, false],
    ["no description", { metadata: {}, data: { "ca.crt": CA } }, false],
  ])("is current %s: %s", (_, published, current) => {
    expect(isCurrent(published, CA)).toBe(current);
  });
});

describe("without CLUSTER_CA_PEM", () => {
  it("the controller manager's status says no kube-root-ca.crt is published", async () => {
    const status = await env.CONTROLLERS.get(env.CONTROLLERS.idFromName(env.CLUSTER_NAME)).status();
    expect(status.notes).toEqual([NO_CA_NOTE]);
  });
});
