import { describe, expect, it } from "vitest";
import { decodePutRequest, decodeRangeRequest, encodeResponse, fromBase64, headerIdentity, toBase64 } from "./gateway-json.ts";

describe("etcd JSON gateway encoding", () => {
  it("round-trips any bytes through base64 exactly as btoa/atob do", () => {
    for (let n = 0; n < 70; n++) {
      const bytes = crypto.getRandomValues(new Uint8Array(n));
      const expected = btoa(String.fromCharCode(...bytes));
      expect(toBase64(bytes)).toBe(expected);
      expect([...fromBase64(expected, "key")]).toEqual([...bytes]);
    }
  });

  it("refuses malformed base64, integers and enums with InvalidArgument", () => {
    expect(() => fromBase64("ab$d", "key")).toThrow(/illegal base64 data at input byte 2/);
    expect(() => fromBase64("abcde", "key")).toThrow(/illegal base64/);
    expect(() => fromBase64("YQ", "key")).toThrow(/illegal base64/); // unpadded
    expect(() => fromBase64("Y-==", "key")).toThrow(/illegal base64/); // URL-safe alphabet
    expect(() => fromBase64("Y===", "key")).toThrow(/illegal base64/);
    expect(() => fromBase64("Y Q=", "key")).toThrow(/illegal base64 data at input byte 1/); // whitespace
    expect(() => fromBase64("YQ==    ", "key")).toThrow(/illegal base64/);
    expect(() => fromBase64("YWJj\n\n\n\nYWJj", "key")).toThrow(/illegal base64 data at input byte 4/);
    expect(() => decodePutRequest({ key: "YQ==", lease: 1.5 })).toThrow(/must be an integer/);
    expect(() => decodeRangeRequest({ key: "YQ==", sort_order: "SIDEWAYS" })).toThrow(/unknown value "SIDEWAYS"/);
    expect(decodeRangeRequest({ key: "YQ==", limit: "10", sort_target: 4 })).toMatchObject({ limit: 10, sort_target: "VALUE" });
  });

  it("leaves out zero values and prints int64 as strings", () => {
    const identity = headerIdentity("ab".repeat(32));
    const out = encodeResponse({
      header: { revision: 7 }, kvs: [{ key: new Uint8Array([1]), create_revision: 7, mod_revision: 7, version: 1, value: new Uint8Array(0), lease: 0 }],
      more: false, count: 1,
    }, identity);
    expect(out).toEqual({
      header: { cluster_id: identity.cluster_id, member_id: identity.member_id, revision: "7", raft_term: "1" },
      kvs: [{ key: "AQ==", create_revision: "7", mod_revision: "7", version: "1" }],
      count: "1",
    });
  });
});
