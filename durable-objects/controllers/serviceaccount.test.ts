// The ServiceAccount controller against the real apiserver: a new namespace gets its "default"
// ServiceAccount, a deleted one comes back, and a Terminating namespace gets none.
import type { Namespace, ServiceAccount } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { isNotFound } from "../../lib/client/index.ts";
import { testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { wakeControllerManager } from "./testing.ts";

const client = testClient();
const namespaces = client.resource<Namespace>(builtin("v1", "namespaces"));
const serviceAccounts = client.resource<ServiceAccount>(builtin("v1", "serviceaccounts"));

const wake = wakeControllerManager;

describe("the serviceaccount controller", () => {
  it("gives a new namespace its default ServiceAccount and makes it again when it is deleted", async () => {
    const ns = `sa-${crypto.randomUUID().slice(0, 8)}`;
    await namespaces.create(undefined, { metadata: { name: ns } });
    // The apiserver makes none itself.
    await expect(serviceAccounts.get(ns, "default")).rejects.toSatisfy(isNotFound);
    await wake();
    const first = await serviceAccounts.get(ns, "default");
    await serviceAccounts.delete(ns, "default");
    await wake();
    const again = await serviceAccounts.get(ns, "default");
    expect(again.metadata!.uid).not.toBe(first.metadata!.uid);
  });

  it("leaves a Terminating namespace alone", async () => {
    const ns = `sa-${crypto.randomUUID().slice(0, 8)}`;
    await namespaces.create(undefined, { metadata: { name: ns, finalizers: ["example.com/hold"] } });
    await namespaces.delete(undefined, ns);
    await wake();
    await expect(serviceAccounts.get(ns, "default")).rejects.toSatisfy(isNotFound);
  });
});
