// Which pods a ReplicationController's equality selector selects.
import type { ReplicaSet } from "kubernetes-types/apps/v1";
import { describe, expect, it } from "vitest";
import { selectsByEquality } from "./replicationcontroller.ts";

const rc = (selector?: Record<string, string>) => ({ spec: { selector } }) as unknown as ReplicaSet;

describe("a ReplicationController's selector", () => {
  it.each([
    ["every pair matches", { app: "web" }, { app: "web", tier: "front" }, true],
    ["a pair differs", { app: "web", tier: "back" }, { app: "web", tier: "front" }, false],
    ["a key is missing", { app: "web" }, { tier: "front" }, false],
    ["no labels", { app: "web" }, undefined, false],
    ["an empty selector selects nothing", {}, { app: "web" }, false],
    ["no selector selects nothing", undefined, { app: "web" }, false],
  ])("%s", (_, selector, labels, expected) => {
    expect(selectsByEquality(rc(selector), labels)).toBe(expected);
  });
});
