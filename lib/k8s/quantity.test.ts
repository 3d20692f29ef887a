import { describe, expect, it } from "vitest";
import { canonicalQuantity, formatQuantity, parseQuantity, QuantityError } from "./quantity.ts";

describe("quantities", () => {
  it.each([
    ["1", 1000n], ["100m", 100n], ["0.5", 500n], ["1.5Gi", 1610612736000n], ["128Mi", 134217728000n], ["2k", 2000000n],
    ["1e3", 1000000n], ["5n", 1n], ["-2", -2000n], [".25", 250n], [3, 3000n],
  ])("%s is %s milli-units", (text, milli) => {
    expect(parseQuantity(text)).toBe(milli);
  });

  it("refuses what is not a quantity", () => {
    for (const bad of ["", "abc", "1.2.3", "1Gb", "--1", "1 Gi"]) expect(() => parseQuantity(bad), bad).toThrow(QuantityError);
  });

  it("writes milli-units back as kube does", () => {
    expect(formatQuantity(600n)).toBe("600m");
    expect(formatQuantity(2000n)).toBe("2");
    expect(formatQuantity(parseQuantity("256Mi"), true)).toBe("256Mi");
    expect(formatQuantity(parseQuantity("1536Mi"), true)).toBe("1536Mi");
    expect(formatQuantity(parseQuantity("2Gi"), true)).toBe("2Gi");
    expect(formatQuantity(0n, true)).toBe("0");
  });
});

describe("canonical quantities", () => {
  it.each([
    ["1", "1"], ["1000m", "1"], ["1500m", "1500m"], ["0.5", "500m"], ["2000", "2k"], ["1.5Gi", "1536Mi"], ["1024", "1024"], ["2048Ki", "2Mi"],
    ["512Ki", "512Ki"], ["1000Mi", "1000Mi"], ["100Ki", "100Ki"], ["0.5Ki", "512"], ["1e3", "1e3"], ["0", "0"], ["-1", "-1"], ["3M", "3M"], ["1200", "1200"],
  ])("%s prints as %s", (text, canonical) => {
    expect(canonicalQuantity(text)).toBe(canonical);
  });
});
