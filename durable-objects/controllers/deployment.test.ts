// The pod-template-hash: stable for a template whatever its keys' order, different for another template.
import { describe, expect, it } from "vitest";
import { podTemplateHash } from "./deployment.ts";

describe("podTemplateHash", () => {
  const template = { metadata: { labels: { app: "web", tier: "front" } }, spec: { containers: [{ name: "c", image: "busybox" }] } };

  it("is stable, safe-encoded, and moves with the template and the collision count", () => {
    const hash = podTemplateHash(template);
    expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    expect(podTemplateHash({ spec: template.spec, metadata: { labels: { tier: "front", app: "web" } } })).toBe(hash);
    expect(podTemplateHash({ ...template, spec: { containers: [{ name: "c", image: "busybox:1.36" }] } })).not.toBe(hash);
    expect(podTemplateHash(template, 1)).not.toBe(hash);
  });
});
