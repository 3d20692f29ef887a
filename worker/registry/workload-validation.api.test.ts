// Workload validation through the real Worker: creates, replaces and patches refused with kube's
// 422 Invalid Status (message, causes, field paths), and the writes kube lets through still working.
import { describe, expect, it } from "vitest";
import { createDefaultServiceAccount, rawApi } from "../../lib/client/testing.ts";

const MERGE = { "Content-Type": "application/merge-patch+json" };
const STRATEGIC = { "Content-Type": "application/strategic-merge-patch+json" };

const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => rawApi(method, path, body, { headers });

async function namespace(): Promise<string> {
  const name = `v-${crypto.randomUUID().slice(0, 8)}`;
  expect((await api("POST", "/api/v1/namespaces", { metadata: { name } })).status).toBe(201);
  await createDefaultServiceAccount(name);
  return name;
}

/** The 422 Status kube answers: reason Invalid, the message listing every cause, the causes themselves. */
function invalid(group: string, kind: string, name: string, causes: { reason: string; field: string; message: string }[]) {
  return {
    kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason: "Invalid", code: 422,
    message: `${kind}${group ? `.${group}` : ""} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(", ")}`,
    details: { name, ...(group ? { group } : {}), kind, causes },
  };
}

const template = (labels: Record<string, string>) => ({ metadata: { labels }, spec: { containers: [{ name: "c", image: "nginx:1.25" }] } });

describe("workload validation through the API", () => {
  it("refuses a Deployment whose selector does not match its template, a negative replica count and a selector change", async () => {
    const ns = await namespace();
    const deployments = `/apis/apps/v1/namespaces/${ns}/deployments`;
    const mismatch = await api("POST", deployments, { metadata: { name: "web" }, spec: { selector: { matchLabels: { app: "other" } }, template: template({ app: "web" }) } });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body).toEqual(invalid("apps", "Deployment", "web", [
      { reason: "FieldValueInvalid", field: "spec.template.metadata.labels", message: 'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`' },
    ]));
    expect((await api("GET", `${deployments}/web`)).status).toBe(404);

    const created = await api("POST", deployments, { metadata: { name: "web" }, spec: { selector: { matchLabels: { app: "web" } }, template: template({ app: "web" }) } });
    expect(created.status).toBe(201);
    const negative = await api("PUT", `${deployments}/web`, { ...created.body, spec: { ...created.body.spec, replicas: -1 } });
    expect(negative.body).toEqual(invalid("apps", "Deployment", "web", [{ reason: "FieldValueInvalid", field: "spec.replicas", message: "Invalid value: -1: must be greater than or equal to 0" }]));
    const moved = await api("PATCH", `${deployments}/web`, { spec: { selector: { matchLabels: { app: "api" } }, template: { metadata: { labels: { app: "api" } } } } }, STRATEGIC);
    expect(moved.body).toEqual(invalid("apps", "Deployment", "web", [{
      reason: "FieldValueInvalid", field: "spec.selector",
      message: 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"api"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    }]));
    const scaleDown = await api("PATCH", `${deployments}/web/scale`, { spec: { replicas: -1 } }, MERGE);
    expect(scaleDown.body).toMatchObject({ reason: "Invalid", code: 422, details: { causes: [{ field: "spec.replicas" }] } });
    // What kube allows still goes through: replicas, the template, and /status.
    const scaled = await api("PATCH", `${deployments}/web`, { spec: { replicas: 3, template: { spec: { containers: [{ name: "c", image: "nginx:1.26" }] } } } }, STRATEGIC);
    expect(scaled.status).toBe(200);
    expect(scaled.body.spec).toMatchObject({ replicas: 3, template: { spec: { containers: [{ image: "nginx:1.26" }] } } });
    expect((await api("PUT", `${deployments}/web/status`, { ...scaled.body, status: { replicas: 3 } })).status).toBe(200);
  });

  it("lists every cause of a pod that breaks several rules", async () => {
    const ns = await namespace();
    const res = await api("POST", `/api/v1/namespaces/${ns}/pods`, {
      metadata: { name: "bad" },
      spec: { restartPolicy: "Sometimes", containers: [{ name: "c", image: "busybox", ports: [{ containerPort: 70000 }], volumeMounts: [{ name: "nope", mountPath: "/x" }] }] },
    });
    expect(res.status).toBe(422);
    expect(res.body.details.causes).toEqual([
      { reason: "FieldValueInvalid", field: "spec.containers[0].ports[0].containerPort", message: "Invalid value: 70000: must be between 1 and 65535, inclusive" },
      { reason: "FieldValueNotFound", field: "spec.containers[0].volumeMounts[0].name", message: 'Not found: "nope"' },
      { reason: "FieldValueNotSupported", field: "spec.restartPolicy", message: 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"' },
    ]);
    expect(res.body.message).toBe(`Pod "bad" is invalid: ${res.body.details.causes.map((c: { field: string; message: string }) => `${c.field}: ${c.message}`).join(", ")}`);
  });

  it("lets a pod's admitted fields, images, labels, binding and status change, and nothing else of its spec", async () => {
    const ns = await namespace();
    const pods = `/api/v1/namespaces/${ns}/pods`;
    const created = await api("POST", pods, { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "busybox:1.36", ports: [{ containerPort: 80 }] }] } });
    expect(created.status).toBe(201);
    // Admission added the token volume and its mounts, and the not-ready/unreachable tolerations.
    expect(created.body.spec.volumes[0].name).toMatch(/^kube-api-access-/);
    expect(created.body.spec.tolerations).toHaveLength(2);

    expect((await api("PUT", `${pods}/p`, created.body)).status).toBe(200);
    expect((await api("PATCH", `${pods}/p`, { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "busybox:1.37" }], activeDeadlineSeconds: 600 } }, STRATEGIC)).status).toBe(200);
    expect((await api("POST", `${pods}/p/binding`, { apiVersion: "v1", kind: "Binding", metadata: { name: "p" }, target: { kind: "Node", name: "node-1" } })).status).toBe(201);
    const bound = (await api("GET", `${pods}/p`)).body;
    expect(bound.spec).toMatchObject({ nodeName: "node-1", activeDeadlineSeconds: 600, containers: [{ image: "busybox:1.37" }] });
    expect((await api("PUT", `${pods}/p/status`, { ...bound, status: { phase: "Running" } })).status).toBe(200);

    const port = await api("PATCH", `${pods}/p`, { spec: { containers: [{ name: "c", ports: [{ containerPort: 8080 }] }] } }, STRATEGIC);
    expect(port.status).toBe(422);
    expect(port.body.details.causes).toHaveLength(1);
    expect(port.body.details.causes[0]).toMatchObject({ reason: "FieldValueForbidden", field: "spec" });
    expect(port.body.message).toMatch(/^Pod "p" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`,`spec.initContainers\[\*\].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` \(only additions to existing tolerations\),`spec.terminationGracePeriodSeconds` \(allow it to be set to 1 if it was previously negative\)\n/);
    const node = await api("PATCH", `${pods}/p`, { spec: { nodeName: "node-2" } }, MERGE);
    expect(node.body.details.causes[0]).toMatchObject({ reason: "FieldValueForbidden", field: "spec" });
    const longer = await api("PATCH", `${pods}/p`, { spec: { activeDeadlineSeconds: 900 } }, MERGE);
    expect(longer.body.details.causes).toEqual([{ reason: "FieldValueInvalid", field: "spec.activeDeadlineSeconds", message: "Invalid value: 900: must be less than or equal to previous value" }]);
  });

  it("generates a Job's selector, keeps its template, and checks CronJob schedules", async () => {
    const ns = await namespace();
    const jobs = `/apis/batch/v1/namespaces/${ns}/jobs`;
    const job = await api("POST", jobs, { metadata: { name: "once" }, spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox" }] } } } });
    expect(job.status).toBe(201);
    const uid = job.body.metadata.uid;
    expect(job.body.spec.selector).toEqual({ matchLabels: { "batch.kubernetes.io/controller-uid": uid } });
    expect(job.body.spec.template.metadata.labels).toEqual({ "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "once", "controller-uid": uid, "job-name": "once" });
    const changed = await api("PATCH", `${jobs}/once`, { spec: { template: { spec: { containers: [{ name: "c", image: "busybox:2" }] } } } }, STRATEGIC);
    expect(changed.status).toBe(422);
    expect(changed.body.details.causes).toEqual([expect.objectContaining({ reason: "FieldValueInvalid", field: "spec.template", message: expect.stringMatching(/: field is immutable$/) })]);
    const always = await api("POST", jobs, { metadata: { name: "always" }, spec: { template: { spec: { containers: [{ name: "c", image: "busybox" }] } } } });
    expect(always.body).toEqual(invalid("batch", "Job", "always", [
      { reason: "FieldValueRequired", field: "spec.template.spec.restartPolicy", message: 'Required value: valid values: "OnFailure", "Never"' },
    ]));

    const cronJobs = `/apis/batch/v1/namespaces/${ns}/cronjobs`;
    const jobTemplate = { spec: { template: { spec: { restartPolicy: "OnFailure", containers: [{ name: "c", image: "busybox" }] } } } };
    const cron = await api("POST", cronJobs, { metadata: { name: "nightly" }, spec: { schedule: "0 25 * * *", jobTemplate } });
    expect(cron.body).toEqual(invalid("batch", "CronJob", "nightly", [
      { reason: "FieldValueInvalid", field: "spec.schedule", message: 'Invalid value: "0 25 * * *": end of range (25) above maximum (23): 25' },
    ]));
    expect((await api("POST", cronJobs, { metadata: { name: "nightly" }, spec: { schedule: "@daily", timeZone: "Europe/Paris", jobTemplate } })).status).toBe(201);
  });

  it("defaults a ReplicationController's selector from its template and refuses one without", async () => {
    const ns = await namespace();
    const rcs = `/api/v1/namespaces/${ns}/replicationcontrollers`;
    const rc = await api("POST", rcs, { metadata: { name: "rc" }, spec: { template: template({ app: "rc" }) } });
    expect(rc.status).toBe(201);
    expect(rc.body.spec.selector).toEqual({ app: "rc" });
    const none = await api("POST", rcs, { metadata: { name: "none" }, spec: { template: { spec: template({}).spec } } });
    expect(none.body).toEqual(invalid("", "ReplicationController", "none", [{ reason: "FieldValueRequired", field: "spec.selector", message: "Required value" }]));
  });
});
