// kubectl get componentstatuses: the components this deployment runs, probed when asked.
import { describe, expect, it } from "vitest";
import { rawApi } from "../../lib/client/testing.ts";

describe("componentstatuses", () => {
  it("lists etcd-0, the scheduler and the controller manager as Healthy, warns that the API is deprecated, and prints kube's columns", async () => {
    const list = await rawApi("GET", "/api/v1/componentstatuses");
    expect(list.status).toBe(200);
    expect(list.headers.get("Warning")).toBe('299 - "v1 ComponentStatus is deprecated in v1.19+"');
    expect(list.body).toMatchObject({ kind: "ComponentStatusList", items: [
      { metadata: { name: "etcd-0" }, conditions: [{ type: "Healthy", status: "True" }] },
      { metadata: { name: "scheduler" }, conditions: [{ type: "Healthy", status: "True", message: "ok" }] },
      { metadata: { name: "controller-manager" }, conditions: [{ type: "Healthy", status: "True", message: "ok" }] },
    ] });
    const table = await rawApi("GET", "/api/v1/componentstatuses", undefined, { headers: { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io" } });
    expect(table.body.columnDefinitions.map((c: { name: string }) => c.name)).toEqual(["Name", "Status", "Message", "Error"]);
    expect(table.body.rows[0].cells.slice(0, 2)).toEqual(["etcd-0", "Healthy"]);
  });

  it("gives each component a line in /readyz?verbose", async () => {
    const readyz = await rawApi("GET", "/readyz?verbose");
    expect(readyz.status).toBe(200);
    expect(readyz.text.split("\n")).toEqual(expect.arrayContaining(["[+]scheduler ok", "[+]controller-manager ok"]));
  });

  it("gets one by name, 404 for another, and refuses writes", async () => {
    expect((await rawApi("GET", "/api/v1/componentstatuses/etcd-0")).body).toMatchObject({ kind: "ComponentStatus", metadata: { name: "etcd-0" } });
    expect((await rawApi("GET", "/api/v1/componentstatuses/nothing")).status).toBe(404);
    expect((await rawApi("DELETE", "/api/v1/componentstatuses/etcd-0")).status).toBe(405);
  });
});
