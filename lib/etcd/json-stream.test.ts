import { expect, it } from "vitest";
import { JsonObjectSplitter } from "./json-stream.ts";

it("splits concatenated and newline-separated objects, across chunk boundaries and inside strings", () => {
  const splitter = new JsonObjectSplitter();
  const text = '{"a":{"b":"}{"}}\n{"c":[1,{"d":"\\"}"}]}{"e":1}';
  const out: string[] = [];
  for (const ch of text) out.push(...splitter.push(ch));
  expect(out.map((o) => JSON.parse(o))).toEqual([{ a: { b: "}{" } }, { c: [1, { d: '"}' }] }, { e: 1 }]);
  expect(splitter.rest()).toBe("");
});

it("hands on stray text and unfinished objects so the caller can report them", () => {
  const splitter = new JsonObjectSplitter();
  expect(splitter.push('{"a":1} junk')).toEqual(['{"a":1}', "junk"]);
  const unfinished = new JsonObjectSplitter();
  expect(unfinished.push('{"a":')).toEqual([]);
  expect(unfinished.rest()).toBe('{"a":');
});
