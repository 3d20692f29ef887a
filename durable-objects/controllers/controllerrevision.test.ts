// ControllerRevision data: the patch that restores a template (what kubectl rollout undo applies),
// read back as the template, and a hash that names it whatever order its keys come in.
import { describe, expect, it } from "vitest";
import { revisionData, revisionHash, templateOf } from "./controllerrevision.ts";

describe("revision data", () => {
  const template = { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "nginx" }] } };

  it("is a strategic merge patch that replaces the template, and gives the template back", () => {
    const data = revisionData(template);
    expect(data).toEqual({ spec: { template: { ...template, $patch: "replace" } } });
    expect(templateOf({ metadata: {}, revision: 1, data })).toEqual(template);
  });

  it("hashes alike whatever the keys' order, and apart for another template or collision count", () => {
    const reordered = { spec: { containers: [{ image: "nginx", name: "c" }] }, metadata: { labels: { app: "web" } } };
    expect(revisionHash(reordered)).toBe(revisionHash(template));
    expect(revisionHash({ ...template, spec: { containers: [{ name: "c", image: "nginx:2" }] } })).not.toBe(revisionHash(template));
    expect(revisionHash(template, 1)).not.toBe(revisionHash(template));
  });
});
