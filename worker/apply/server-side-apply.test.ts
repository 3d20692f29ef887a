// Server-side apply through the API: create, ownership, conflicts, force, removal of dropped fields.
import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";

const AUTH = { Authorization: "Bearer test-admin-token" };

async function call(method: string, path: string, body: unknown, contentType = "application/json") {
  const res = await exports.default.fetch(`https://edgeplane.test${path}`, {
    method, headers: { ...AUTH, "Content-Type": contentType }, body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() as any };
}

const apply = (path: string, body: unknown, manager: string, force = false) =>
  call("PATCH", `${path}?fieldManager=${manager}${force ? "&force=true" : ""}`, body, "application/apply-patch+yaml");

function deployment(replicas: number, containers: object[]) {
  return {
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" },
    spec: { replicas, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers } } },
  };
}

it("creates, owns per manager, refuses conflicts unless forced, and removes what a manager stops applying", async () => {
  const ns = `ssa-${crypto.randomUUID().slice(0, 8)}`;
  await call("POST", "/api/v1/namespaces", { metadata: { name: ns } });
  const path = `/apis/apps/v1/namespaces/${ns}/deployments/web`;

  const created = await apply(path, deployment(2, [{ name: "a", image: "nginx:1.25" }, { name: "b", image: "redis:7" }]), "alice");
  expect(created.status).toBe(201);
  expect(created.body.metadata.managedFields).toEqual([expect.objectContaining({ manager: "alice", operation: "Apply", apiVersion: "apps/v1" })]);
  const owned = created.body.metadata.managedFields[0].fieldsV1;
  expect(owned["f:spec"]["f:template"]["f:spec"]["f:containers"]).toHaveProperty(['k:{"name":"a"}', "f:image"]);

  // YAML works as well as JSON; an unchanged apply changes nothing.
  const yaml = `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - {name: a, image: "nginx:1.25"}\n      - {name: b, image: "redis:7"}\n`;
  const again = await apply(path, yaml, "alice");
  expect(again.body.metadata.resourceVersion).toBe(created.body.metadata.resourceVersion);

  // Another manager changes replicas with an update; alice's apply of a different value conflicts.
  const current = again.body;
  await call("PUT", `${path}?fieldManager=bob`, { ...current, spec: { ...current.spec, replicas: 5 } });
  const conflict = await apply(path, deployment(3, [{ name: "a", image: "nginx:1.25" }, { name: "b", image: "redis:7" }]), "alice");
  expect(conflict.status).toBe(409);
  expect(conflict.body.message).toBe('Apply failed with 1 conflict: conflict with "bob" using apps/v1: .spec.replicas');
  expect(conflict.body.details.causes).toEqual([{ reason: "FieldManagerConflict", message: 'conflict with "bob" using apps/v1', field: ".spec.replicas" }]);
  expect((await call("GET", path, undefined as never)).body.spec.replicas).toBe(5);

  // Forced, alice takes replicas; dropping container b removes it, as no one else owns it.
  const forced = await apply(path, deployment(3, [{ name: "a", image: "nginx:1.26" }]), "alice", true);
  expect(forced.status).toBe(200);
  expect(forced.body.spec.replicas).toBe(3);
  expect(forced.body.spec.template.spec.containers.map((c: any) => `${c.name}=${c.image}`)).toEqual(["a=nginx:1.26"]);
  const managers = Object.fromEntries(forced.body.metadata.managedFields.map((e: any) => [e.manager, e.fieldsV1]));
  expect(managers.bob?.["f:spec"]?.["f:replicas"]).toBeUndefined();

  expect((await call("PATCH", path, deployment(1, []), "application/apply-patch+yaml")).status).toBe(400); // no fieldManager
});
