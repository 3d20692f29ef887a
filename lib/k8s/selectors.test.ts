import { describe, expect, it } from "vitest";
import {
  fieldErrorBody,
  formatLabelSelector,
  labelSelectorFromObject,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
  validateAnnotations,
  validateLabels,
  type LabelRequirement,
} from "./selectors.ts";

// kube-apiserver's wording, spelled out here so the tests check the module rather than echo it.
const NAME_PART = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const PREFIX_PART = "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const TOO_MANY_SLASHES = "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";

const req = (key: string, operator: LabelRequirement["operator"], ...values: string[]): LabelRequirement => ({ key, operator, values });

function selectorError(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(SelectorError);
    return (e as Error).message;
  }
  throw new Error("expected a SelectorError");
}

describe("parseLabelSelector", () => {
  const cases: [string, LabelRequirement[]][] = [
    ["", []],
    ["   ", []],
    ["app=web", [req("app", "=", "web")]],
    ["app==web", [req("app", "==", "web")]],
    ["app!=web", [req("app", "!=", "web")]],
    ["app", [req("app", "exists")]],
    ["!app", [req("app", "!")]],
    ["! app", [req("app", "!")]],
    ["tier in (frontend,backend)", [req("tier", "in", "backend", "frontend")]],
    ["tier notin (frontend)", [req("tier", "notin", "frontend")]],
    ["tier in(b,a,b)", [req("tier", "in", "a", "b")]],
    ["  app = web ,\ttier\nin ( a , b ) ", [req("app", "=", "web"), req("tier", "in", "a", "b")]],
    ["z=1,a=2,m", [req("a", "=", "2"), req("m", "exists"), req("z", "=", "1")]],
    ["a=1,a!=2", [req("a", "=", "1"), req("a", "!=", "2")]],
    ["a=", [req("a", "=", "")]],
    ["a=,b", [req("a", "=", ""), req("b", "exists")]],
    ["a!=", [req("a", "!=", "")]],
    ["a in ()", [req("a", "in", "")]],
    ["a in (,)", [req("a", "in", "")]],
    ["a in (x,)", [req("a", "in", "", "x")]],
    ["a in (,x)", [req("a", "in", "", "x")]],
    ["a in (x,,y)", [req("a", "in", "", "x", "y")]],
    ["x in (foo,,baz),y,z notin ()", [req("x", "in", "", "baz", "foo"), req("y", "exists"), req("z", "notin", "")]],
    ["in in (in,notin)", [req("in", "in", "in", "notin")]],
    ["notin", [req("notin", "exists")]],
    ["app.kubernetes.io/name=web", [req("app.kubernetes.io/name", "=", "web")]],
    ["Upper_Case.key-1=Mixed.Value_2", [req("Upper_Case.key-1", "=", "Mixed.Value_2")]],
    ["replicas>3,replicas<10", [req("replicas", ">", "3"), req("replicas", "<", "10")]],
    [`a=${"v".repeat(63)}`, [req("a", "=", "v".repeat(63))]],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${JSON.stringify(text)}`, () => {
      expect(parseLabelSelector(text)).toEqual(expected);
    });
  }

  const errors: [string, string][] = [
    ["app:web", `unable to parse requirement: <nil>: Invalid value: "app:web": ${NAME_PART}`],
    ["*bar", `unable to parse requirement: <nil>: Invalid value: "*bar": ${NAME_PART}`],
    ["a/b/c=d", `unable to parse requirement: <nil>: Invalid value: "a/b/c": ${TOO_MANY_SLASHES}`],
    ["Example.com/x", `unable to parse requirement: <nil>: Invalid value: "Example.com/x": ${PREFIX_PART}`],
    ["/x", "unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be non-empty"],
    ["x/", `unable to parse requirement: <nil>: Invalid value: "x/": name part must be non-empty; ${NAME_PART}`],
    [`${"k".repeat(64)}`, `unable to parse requirement: <nil>: Invalid value: "${"k".repeat(64)}": name part must be no more than 63 characters`],
    [`a=${"z".repeat(64)}`, `unable to parse requirement: values[0][a]: Invalid value: "${"z".repeat(64)}": must be no more than 63 characters`],
    ["a=-x", `unable to parse requirement: values[0][a]: Invalid value: "-x": ${LABEL_VALUE}`],
    ["a in (ok,-bad)", `unable to parse requirement: values[0][a]: Invalid value: "-bad": ${LABEL_VALUE}`],
    ["a in b", "unable to parse requirement: found 'b' expected: '('"],
    ["a in", "unable to parse requirement: found '' expected: '('"],
    ["a in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"],
    ["a in (b", "unable to parse requirement: found '', expected: ',' or ')'"],
    ["a in (b,c", "unable to parse requirement: found '', expected: ',' or ')'"],
    ["a in (b,", "unable to parse requirement: found '', expected: ',', or identifier"],
    ["a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"],
    ["a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
    ["a in (b))", "found ')', expected: ',' or 'end of string'"],
    ["a in b)", "unable to parse requirement: found 'b' expected: '('"],
    ["a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ["a!b", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"],
    ["a=(b)", "unable to parse requirement: found '(', expected: identifier"],
    ["a===b", "unable to parse requirement: found '=', expected: identifier"],
    ["a=b c", "found 'c', expected: ',' or 'end of string'"],
    ["a=b=c", "found '=', expected: ',' or 'end of string'"],
    ["!a=b", "found '=', expected: ',' or 'end of string'"],
    ["!", "unable to parse requirement: found '', expected: identifier"],
    ["!=a", "found '!=', expected: !, identifier, or 'end of string'"],
    ["(a)", "found '(', expected: !, identifier, or 'end of string'"],
    [",a", "found ',', expected: !, identifier, or 'end of string'"],
    ["a,", "found '', expected: identifier after ','"],
    ["a,,b", "found ',', expected: identifier after ','"],
    ["a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"],
    ["a<", "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer"],
    ["a>99999999999999999999", "unable to parse requirement: values[0]: Invalid value: \"99999999999999999999\": for 'Gt', 'Lt' operators, the value must be an integer"],
    ["a>-1", `unable to parse requirement: values[0][a]: Invalid value: "-1": ${LABEL_VALUE}`],
    ["a>-x", `unable to parse requirement: [values[0]: Invalid value: "-x": for 'Gt', 'Lt' operators, the value must be an integer, values[0][a]: Invalid value: "-x": ${LABEL_VALUE}]`],
  ];
  for (const [text, message] of errors) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      expect(selectorError(() => parseLabelSelector(text))).toBe(message);
    });
  }

  it("quotes keys in messages as Go's %q does", () => {
    expect(selectorError(() => parseLabelSelector('a"b'))).toBe(`unable to parse requirement: <nil>: Invalid value: "a\\"b": ${NAME_PART}`);
    expect(selectorError(() => parseLabelSelector("a\u0001"))).toBe(`unable to parse requirement: <nil>: Invalid value: "a\\x01": ${NAME_PART}`);
  });
});

describe("matchesLabels", () => {
  const labels = { app: "web", tier: "frontend", empty: "", replicas: "5" };
  const cases: [string, Record<string, string> | undefined, boolean][] = [
    ["", labels, true],
    ["", undefined, true],
    ["app=web", labels, true],
    ["app==web", labels, true],
    ["app=db", labels, false],
    ["app=web", undefined, false],
    ["app!=db", labels, true],
    ["app!=web", labels, false],
    ["owner!=me", labels, true], // != matches objects without the label
    ["owner!=me", undefined, true],
    ["tier in (frontend,backend)", labels, true],
    ["tier in (backend)", labels, false],
    ["owner in (me)", labels, false],
    ["tier notin (backend)", labels, true],
    ["tier notin (frontend)", labels, false],
    ["owner notin (me)", labels, true], // notin matches objects without the label
    ["app", labels, true],
    ["owner", labels, false],
    ["!owner", labels, true],
    ["!app", labels, false],
    ["empty=", labels, true],
    ["empty", labels, true],
    ["owner=", labels, false], // "" is a value the label must have, not its absence
    ["empty in (,x)", labels, true],
    ["app=web,tier=frontend", labels, true],
    ["app=web,tier=backend", labels, false],
    ["replicas>4,replicas<6", labels, true],
    ["replicas>5", labels, false],
    ["app>1", labels, false], // a value that is not an integer never compares
    ["owner<9", labels, false],
  ];
  for (const [text, set, expected] of cases) {
    it(`${JSON.stringify(text)} ${expected ? "matches" : "does not match"} ${set ? JSON.stringify(set) : "no labels"}`, () => {
      expect(matchesLabels(parseLabelSelector(text), set)).toBe(expected);
    });
  }

  it("looks up only the object's own labels", () => {
    expect(matchesLabels(parseLabelSelector("constructor"), {})).toBe(false);
    expect(matchesLabels(parseLabelSelector("toString!=x"), {})).toBe(true);
  });

  it("matches nothing for a missing LabelSelector", () => {
    expect(matchesLabels("nothing", labels)).toBe(false);
    expect(matchesLabels("nothing", undefined)).toBe(false);
  });
});

describe("formatLabelSelector", () => {
  const cases: [string, string][] = [
    ["", ""],
    ["app = web", "app=web"],
    ["app==web", "app==web"],
    ["app!=web", "app!=web"],
    ["app", "app"],
    ["!app", "!app"],
    ["tier in ( b , a )", "tier in (a,b)"],
    ["tier notin (x)", "tier notin (x)"],
    ["a in (x,)", "a in (,x)"],
    ["a=", "a="],
    ["z,a=1,m notin (q)", "a=1,m notin (q),z"],
    ["r>1,r<9", "r>1,r<9"],
  ];
  for (const [text, canonical] of cases) {
    it(`writes ${JSON.stringify(text)} as ${JSON.stringify(canonical)}, which parses back the same`, () => {
      const parsed = parseLabelSelector(text);
      expect(formatLabelSelector(parsed)).toBe(canonical);
      expect(parseLabelSelector(canonical)).toEqual(parsed);
    });
  }

  it("sorts requirements and values without changing its input", () => {
    const input = [req("b", "in", "y", "x"), req("a", "exists")];
    expect(formatLabelSelector(input)).toBe("a,b in (x,y)");
    expect(input).toEqual([req("b", "in", "y", "x"), req("a", "exists")]);
  });
});

describe("labelSelectorFromObject", () => {
  it("selects nothing when there is no selector and everything when it is empty", () => {
    expect(labelSelectorFromObject(null)).toBe("nothing");
    expect(labelSelectorFromObject(undefined)).toBe("nothing");
    expect(labelSelectorFromObject({})).toEqual([]);
    expect(labelSelectorFromObject({ matchLabels: {}, matchExpressions: [] })).toEqual([]);
  });

  it("turns matchLabels and matchExpressions into requirements sorted by key", () => {
    const selector = labelSelectorFromObject({
      matchLabels: { tier: "frontend", app: "web" },
      matchExpressions: [
        { key: "env", operator: "In", values: ["prod", "canary"] },
        { key: "track", operator: "NotIn", values: ["legacy"] },
        { key: "owner", operator: "Exists" },
        { key: "deprecated", operator: "DoesNotExist", values: [] },
      ],
    });
    expect(selector).toEqual([
      req("app", "=", "web"),
      req("deprecated", "!"),
      req("env", "in", "prod", "canary"),
      req("owner", "exists"),
      req("tier", "=", "frontend"),
      req("track", "notin", "legacy"),
    ]);
    expect(formatLabelSelector(selector as LabelRequirement[])).toBe("app=web,!deprecated,env in (canary,prod),owner,tier=frontend,track notin (legacy)");
    expect(matchesLabels(selector, { app: "web", tier: "frontend", env: "prod", owner: "me" })).toBe(true);
    expect(matchesLabels(selector, { app: "web", tier: "frontend", env: "prod", owner: "me", track: "legacy" })).toBe(false);
    expect(matchesLabels(selector, { app: "web", tier: "frontend", env: "dev", owner: "me" })).toBe(false);
  });

  const errors: [Parameters<typeof labelSelectorFromObject>[0], string][] = [
    [{ matchLabels: { "bad key": "x" } }, `key: Invalid value: "bad key": ${NAME_PART}`],
    [{ matchLabels: { app: "-x" } }, `values[0][app]: Invalid value: "-x": ${LABEL_VALUE}`],
    [{ matchExpressions: [{ key: "a", operator: "In", values: [] }] }, "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"],
    [{ matchExpressions: [{ key: "a", operator: "NotIn" }] }, "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"],
    [{ matchExpressions: [{ key: "a", operator: "Exists", values: ["x", "y"] }] }, 'values: Invalid value: []string{"x", "y"}: values set must be empty for exists and does not exist'],
    [{ matchExpressions: [{ key: "a", operator: "Gt" as "In", values: ["1"] }] }, '"Gt" is not a valid label selector operator'],
    [
      { matchExpressions: [{ key: "a/b/c", operator: "In", values: ["-x"] }] },
      `[key: Invalid value: "a/b/c": ${TOO_MANY_SLASHES}, values[0][a/b/c]: Invalid value: "-x": ${LABEL_VALUE}]`,
    ],
  ];
  for (const [selector, message] of errors) {
    it(`refuses ${JSON.stringify(selector)}`, () => {
      expect(selectorError(() => labelSelectorFromObject(selector))).toBe(message);
    });
  }
});

describe("parseFieldSelector", () => {
  const cases: [string, ReturnType<typeof parseFieldSelector>][] = [
    ["", []],
    [",", []],
    ["metadata.name=web", [{ field: "metadata.name", operator: "=", value: "web" }]],
    ["metadata.name==web", [{ field: "metadata.name", operator: "==", value: "web" }]],
    ["status.phase!=Running", [{ field: "status.phase", operator: "!=", value: "Running" }]],
    ["spec.nodeName=", [{ field: "spec.nodeName", operator: "=", value: "" }]],
    [
      "status.phase!=Failed,metadata.namespace=default",
      [{ field: "metadata.namespace", operator: "=", value: "default" }, { field: "status.phase", operator: "!=", value: "Failed" }],
    ],
    ["a=x\\,y", [{ field: "a", operator: "=", value: "x,y" }]],
    ["a=x\\=y", [{ field: "a", operator: "=", value: "x=y" }]],
    ["a=x\\\\y", [{ field: "a", operator: "=", value: "x\\y" }]],
    ["a=x\\\\,b=y", [{ field: "a", operator: "=", value: "x\\" }, { field: "b", operator: "=", value: "y" }]],
    // Whitespace is part of the field and the value, as in kube.
    [" a = b ", [{ field: " a ", operator: "=", value: " b " }]],
    // The first operator splits the term: "!=" before "==" before "=" at each position.
    ["a=!b", [{ field: "a", operator: "=", value: "!b" }]],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${JSON.stringify(text)}`, () => {
      expect(parseFieldSelector(text)).toEqual(expected);
    });
  }

  const errors: [string, string][] = [
    ["metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"],
    ["a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"],
    ["a=b=c", "invalid field selector: unescaped character in value: 61"],
    ["a===b", "invalid field selector: unescaped character in value: 61"],
    ["a!==b", "invalid field selector: unescaped character in value: 61"],
    ["a\\=b=c", "invalid field selector: unescaped character in value: 61"],
    ["a=x\\y", "invalid field selector: invalid escape sequence: \\y"],
    ["a=x\\", "invalid field selector: invalid escape sequence: \\"],
  ];
  for (const [text, message] of errors) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      expect(selectorError(() => parseFieldSelector(text))).toBe(message);
    });
  }
});

describe("matchesFields", () => {
  const fields = { "metadata.name": "web", "metadata.namespace": "default", "spec.nodeName": "" };
  const cases: [string, boolean][] = [
    ["", true],
    ["metadata.name=web", true],
    ["metadata.name==web", true],
    ["metadata.name=db", false],
    ["metadata.name!=db", true],
    ["metadata.name!=web", false],
    ["spec.nodeName=", true],
    ["spec.nodeName!=", false],
    ["status.phase=", true], // a field the object lacks counts as ""
    ["status.phase!=Running", true],
    ["status.phase!=", false],
    ["metadata.name=web,metadata.namespace=default", true],
    ["metadata.name=web,metadata.namespace!=default", false],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} ${expected ? "matches" : "does not match"}`, () => {
      expect(matchesFields(parseFieldSelector(text), fields)).toBe(expected);
    });
  }

  it("matches escaped values literally", () => {
    expect(matchesFields(parseFieldSelector("a=x\\,y\\=z"), { a: "x,y=z" })).toBe(true);
  });
});

describe("validateLabels", () => {
  it("accepts valid labels, an empty value, a null value (decoded as \"\") and no labels at all", () => {
    expect(validateLabels({ app: "web", "app.kubernetes.io/name": "Web_1.x-2", empty: "" }, "metadata.labels")).toEqual([]);
    expect(validateLabels({ app: null }, "metadata.labels")).toEqual([]);
    expect(validateLabels(undefined, "metadata.labels")).toEqual([]);
    expect(validateLabels(null, "metadata.labels")).toEqual([]);
  });

  const cases: [Record<string, unknown>, { message: string; value: unknown }[]][] = [
    [{ "bad key": "x" }, [{ message: NAME_PART, value: "bad key" }]],
    [{ "-a": "x" }, [{ message: NAME_PART, value: "-a" }]],
    [{ "Example.com/a": "x" }, [{ message: PREFIX_PART, value: "Example.com/a" }]],
    [{ "a/b/c": "x" }, [{ message: TOO_MANY_SLASHES, value: "a/b/c" }]],
    [{ "/a": "x" }, [{ message: "prefix part must be non-empty", value: "/a" }]],
    [{ "a/": "x" }, [{ message: "name part must be non-empty", value: "a/" }, { message: NAME_PART, value: "a/" }]],
    [{ ["k".repeat(64)]: "x" }, [{ message: "name part must be no more than 63 characters", value: "k".repeat(64) }]],
    [{ [`${"p".repeat(254)}/a`]: "x" }, [{ message: "prefix part must be no more than 253 characters", value: `${"p".repeat(254)}/a` }]],
    [{ app: "-web" }, [{ message: LABEL_VALUE, value: "-web" }]],
    [{ app: "v".repeat(64) }, [{ message: "must be no more than 63 characters", value: "v".repeat(64) }]],
    // 32 two-byte characters: 64 bytes, over the limit, and not alphanumeric either.
    [{ app: "é".repeat(32) }, [{ message: "must be no more than 63 characters", value: "é".repeat(32) }, { message: LABEL_VALUE, value: "é".repeat(32) }]],
    [{ "bad key": "-bad" }, [{ message: NAME_PART, value: "bad key" }, { message: LABEL_VALUE, value: "-bad" }]],
  ];
  for (const [labels, expected] of cases) {
    it(`refuses ${JSON.stringify(labels).slice(0, 80)}`, () => {
      expect(validateLabels(labels, "metadata.labels")).toEqual(
        expected.map(({ message, value }) => ({ reason: "FieldValueInvalid", field: "metadata.labels", message, value })),
      );
    });
  }

  it("reports a map or value of the wrong type", () => {
    expect(validateLabels("app=web", "metadata.labels")).toEqual([
      { reason: "FieldValueTypeInvalid", field: "metadata.labels", message: "must be of type object", value: "app=web" },
    ]);
    expect(validateLabels(["a"], "spec.template.metadata.labels")).toEqual([
      { reason: "FieldValueTypeInvalid", field: "spec.template.metadata.labels", message: "must be of type object", value: ["a"] },
    ]);
    expect(validateLabels({ a: 1, b: "ok" }, "metadata.labels")).toEqual([
      { reason: "FieldValueTypeInvalid", field: "metadata.labels[a]", message: "must be of type string", value: 1 },
    ]);
  });

  it("renders the cause message as kube-apiserver does", () => {
    const [error] = validateLabels({ "bad key": "x" }, "metadata.labels");
    expect(fieldErrorBody(error!)).toBe(`Invalid value: "bad key": ${NAME_PART}`);
  });
});

describe("validateAnnotations", () => {
  it("accepts any value and keys in any case", () => {
    expect(validateAnnotations({ "Example.COM/Key": "any value, even -this-", "kubectl.kubernetes.io/last-applied-configuration": "{}" }, "metadata.annotations")).toEqual([]);
    expect(validateAnnotations(undefined, "metadata.annotations")).toEqual([]);
  });

  it("checks keys as label keys, reporting the key as written", () => {
    expect(validateAnnotations({ "Bad Key": "x", "a/b/c": "y" }, "metadata.annotations")).toEqual([
      { reason: "FieldValueInvalid", field: "metadata.annotations", message: NAME_PART, value: "Bad Key" },
      { reason: "FieldValueInvalid", field: "metadata.annotations", message: TOO_MANY_SLASHES, value: "a/b/c" },
    ]);
  });

  it("limits keys and values to 256 KiB in all, counted in bytes", () => {
    const limit = 256 * 1024;
    expect(validateAnnotations({ a: "x".repeat(limit - 1) }, "metadata.annotations")).toEqual([]);
    const tooLong = { reason: "FieldValueTooLong", field: "metadata.annotations", message: `may not be more than ${limit} bytes` };
    expect(validateAnnotations({ a: "x".repeat(limit) }, "metadata.annotations")).toEqual([tooLong]);
    expect(validateAnnotations({ a: "x".repeat(limit / 2), b: "y".repeat(limit / 2) }, "metadata.annotations")).toEqual([tooLong]);
    expect(validateAnnotations({ a: "é".repeat(limit / 2) }, "metadata.annotations")).toEqual([tooLong]);
    expect(fieldErrorBody(tooLong as ReturnType<typeof validateAnnotations>[number])).toBe(`Too long: may not be more than ${limit} bytes`);
  });
});
