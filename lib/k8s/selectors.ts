// Label and field selectors as kube-apiserver parses and applies them (?labelSelector=,
// ?fieldSelector=, metav1.LabelSelector), and the label-key and label-value rules they share
// with metadata.labels and metadata.annotations validation. Messages are worded as kube's.

export type LabelOperator = "=" | "==" | "!=" | "in" | "notin" | "exists" | "!" | ">" | "<";

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

export interface FieldRequirement {
  field: string;
  operator: "=" | "==" | "!=";
  value: string;
}

/** A selector kube-apiserver would refuse; the message is the one it answers with (400 BadRequest). */
export class SelectorError extends Error {
  override name = "SelectorError";
}

/** One validation failure, shaped like kube's field.Error: `reason` is its StatusCause reason. */
export interface FieldError {
  reason: "FieldValueInvalid" | "FieldValueTypeInvalid" | "FieldValueTooLong";
  field: string;
  /** The detail, without the "Invalid value: …" lead-in (see fieldErrorBody). */
  message: string;
  value?: unknown;
}

// ---------------------------------------------------------------------------------------------
// Label keys and values (k8s.io/apimachinery/pkg/util/validation)

const NAME_FORMAT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const NAME = new RegExp(`^${NAME_FORMAT}$`);
const NAME_MESSAGE = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const NAME_MAX = 63;

const LABEL_VALUE_FORMAT = `(${NAME_FORMAT})?`;
const LABEL_VALUE = new RegExp(`^${LABEL_VALUE_FORMAT}$`);
const LABEL_VALUE_MESSAGE = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MAX = 63;

const DNS1123_LABEL_FORMAT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FORMAT = `${DNS1123_LABEL_FORMAT}(\\.${DNS1123_LABEL_FORMAT})*`;
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_SUBDOMAIN_FORMAT}$`);
const DNS1123_SUBDOMAIN_MESSAGE = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MAX = 253;

/** metadata.annotations may hold this many bytes of keys plus values. */
export const ANNOTATIONS_SIZE_LIMIT = 256 * 1024;

/** kube's wording of a value that does not match a format (validation.RegexError), double spaces included. */
export function regexError(message: string, format: string, ...examples: string[]): string {
  // kube's wording, including its double space between examples.
  const shown = examples.map((e) => `'${e}', `).join(" or ");
  return `${message} (e.g. ${shown}regex used for validation is '${format}')`;
}

function maxLengthError(max: number): string {
  return `must be no more than ${max} characters`;
}

const utf8 = new TextEncoder();

/** Go's len(): lengths are limits on bytes, not characters. */
function byteLength(s: string): number {
  return utf8.encode(s).length;
}

function dns1123SubdomainErrors(value: string): string[] {
  const errors: string[] = [];
  if (byteLength(value) > DNS1123_SUBDOMAIN_MAX) errors.push(maxLengthError(DNS1123_SUBDOMAIN_MAX));
  if (!DNS1123_SUBDOMAIN.test(value)) errors.push(regexError(DNS1123_SUBDOMAIN_MESSAGE, DNS1123_SUBDOMAIN_FORMAT, "example.com"));
  return errors;
}

/** Why `value` is not a label key ("qualified name": optional DNS subdomain prefix, "/", name); [] when it is. */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split("/");
  if (parts.length > 2) {
    return [`a qualified name ${regexError(NAME_MESSAGE, NAME_FORMAT, "MyName", "my.name", "123-abc")} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  const errors: string[] = [];
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === "") errors.push("prefix part must be non-empty");
    else errors.push(...dns1123SubdomainErrors(prefix).map((e) => `prefix part ${e}`));
  }
  if (name === "") errors.push("name part must be non-empty");
  else if (byteLength(name) > NAME_MAX) errors.push(`name part ${maxLengthError(NAME_MAX)}`);
  if (!NAME.test(name)) errors.push(`name part ${regexError(NAME_MESSAGE, NAME_FORMAT, "MyName", "my.name", "123-abc")}`);
  return errors;
}

/** Why `value` is not a label value; [] when it is. */
export function labelValueErrors(value: string): string[] {
  const errors: string[] = [];
  if (byteLength(value) > LABEL_VALUE_MAX) errors.push(maxLengthError(LABEL_VALUE_MAX));
  if (!LABEL_VALUE.test(value)) errors.push(regexError(LABEL_VALUE_MESSAGE, LABEL_VALUE_FORMAT, "MyValue", "my_value", "12345"));
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Go's formatting of values in messages (%q for strings, %#v for []string)

/** Go's %q. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code >= 0x80 && code < 0xa0) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

function goStringSlice(values: readonly string[]): string {
  return values.length === 0 ? "[]string(nil)" : `[]string{${values.map(goQuote).join(", ")}}`;
}

function goValue(value: unknown): string {
  if (typeof value === "string") return goQuote(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null || value === undefined) return "null";
  return JSON.stringify(value);
}

/** The StatusCause message kube-apiserver writes for a field error: `Invalid value: "x": detail`. */
export function fieldErrorBody(error: FieldError): string {
  if (error.reason === "FieldValueTooLong") return `Too long: ${error.message}`;
  return `Invalid value: ${goValue(error.value)}: ${error.message}`;
}

// ---------------------------------------------------------------------------------------------
// Requirements (labels.NewRequirement) and matching

/** kube joins several field errors as "[a, b]" and one as itself, dropping repeats. */
function aggregate(messages: string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(", ")}]`;
}

const INT64 = /^[+-]?[0-9]+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's strconv.ParseInt(s, 10, 64), or undefined where it fails. */
function parseInt64(s: string): bigint | undefined {
  if (!INT64.test(s)) return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** A requirement checked as labels.NewRequirement checks it (parse-time key check aside). */
function requirement(key: string, operator: LabelOperator, values: string[]): LabelRequirement {
  const errors: string[] = [];
  const keyErrors = qualifiedNameErrors(key);
  if (keyErrors.length > 0) errors.push(`key: Invalid value: ${goQuote(key)}: ${keyErrors.join("; ")}`);
  switch (operator) {
    case "in":
    case "notin":
      if (values.length === 0) errors.push(`values: Invalid value: ${goStringSlice(values)}: for 'in', 'notin' operators, values set can't be empty`);
      break;
    case "exists":
    case "!":
      if (values.length > 0) errors.push(`values: Invalid value: ${goStringSlice(values)}: values set must be empty for exists and does not exist`);
      break;
    case ">":
    case "<":
      values.forEach((v, i) => {
        if (parseInt64(v) === undefined) errors.push(`values[${i}]: Invalid value: ${goQuote(v)}: for 'Gt', 'Lt' operators, the value must be an integer`);
      });
      break;
  }
  values.forEach((v, i) => {
    const valueErrors = labelValueErrors(v);
    if (valueErrors.length > 0) errors.push(`values[${i}][${key}]: Invalid value: ${goQuote(v)}: ${valueErrors.join("; ")}`);
  });
  if (errors.length > 0) throw new SelectorError(aggregate(errors));
  return { key, operator, values };
}

function sortedByKey(requirements: readonly LabelRequirement[]): LabelRequirement[] {
  return [...requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function requirementMatches(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.operator) {
    case "=":
    case "==":
    case "in":
      return has && r.values.includes(labels[r.key]!);
    case "!=":
    case "notin":
      return !has || !r.values.includes(labels[r.key]!);
    case "exists":
      return has;
    case "!":
      return !has;
    case ">":
    case "<": {
      if (!has || r.values.length !== 1) return false;
      const actual = parseInt64(labels[r.key]!);
      const bound = parseInt64(r.values[0]!);
      if (actual === undefined || bound === undefined) return false;
      return r.operator === ">" ? actual > bound : actual < bound;
    }
  }
}

/** All requirements hold. An object without labels has none; "nothing" matches no object. */
export function matchesLabels(requirements: readonly LabelRequirement[] | "nothing", labels: Record<string, string> | undefined): boolean {
  if (requirements === "nothing") return false;
  const set = labels ?? {};
  return requirements.every((r) => requirementMatches(r, set));
}

/** The selector's string form as kube prints it: requirements by key, each value set sorted. */
export function formatLabelSelector(requirements: readonly LabelRequirement[]): string {
  return sortedByKey(requirements).map((r) => {
    const values = r.values.length > 1 ? [...r.values].sort().join(",") : (r.values[0] ?? "");
    switch (r.operator) {
      case "exists":
        return r.key;
      case "!":
        return `!${r.key}`;
      case "in":
      case "notin":
        return `${r.key} ${r.operator} (${values})`;
      default:
        return `${r.key}${r.operator}${values}`;
    }
  }).join(",");
}

// ---------------------------------------------------------------------------------------------
// ?labelSelector= (labels.Parse)

/** Symbols, the keywords "in"/"notin", identifiers (keys and values), and the end. */
interface Token {
  kind: "identifier" | "in" | "notin" | "end" | "(" | ")" | "," | "!" | "=" | "==" | "!=" | ">" | "<";
  text: string;
}

const SPECIAL = new Set(["=", "!", "(", ")", ",", ">", "<"]);
const WHITESPACE = new Set([" ", "\t", "\r", "\n"]);

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && WHITESPACE.has(text[i]!)) i++;
    if (i >= text.length) {
      tokens.push({ kind: "end", text: "" });
      return tokens;
    }
    if (SPECIAL.has(text[i]!)) {
      // The longest symbol wins: "!=" and "==" over "!" and "=".
      const pair = text.slice(i, i + 2);
      const symbol = (pair === "!=" || pair === "==" ? pair : text[i]!) as Token["kind"];
      tokens.push({ kind: symbol, text: symbol });
      i += symbol.length;
      continue;
    }
    const start = i;
    while (i < text.length && !SPECIAL.has(text[i]!) && !WHITESPACE.has(text[i]!)) i++;
    const word = text.slice(start, i);
    tokens.push({ kind: word === "in" || word === "notin" ? word : "identifier", text: word });
  }
}

class LabelSelectorParser {
  private readonly tokens: Token[];
  private position = 0;

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  /** Where a key or value is expected, the words "in" and "notin" are plain identifiers. */
  private peek(asValue: boolean): Token {
    const token = this.tokens[this.position]!;
    return asValue && (token.kind === "in" || token.kind === "notin") ? { kind: "identifier", text: token.text } : token;
  }

  private next(asValue: boolean): Token {
    const token = this.peek(asValue);
    if (token.kind !== "end") this.position++;
    return token;
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    for (;;) {
      const token = this.peek(true);
      if (token.kind === "end") return requirements;
      if (token.kind !== "identifier" && token.kind !== "!") {
        throw new SelectorError(`found '${token.text}', expected: !, identifier, or 'end of string'`);
      }
      try {
        requirements.push(this.requirement());
      } catch (e) {
        if (e instanceof SelectorError) throw new SelectorError(`unable to parse requirement: ${e.message}`);
        throw e;
      }
      const after = this.next(true);
      if (after.kind === "end") return requirements;
      if (after.kind !== ",") throw new SelectorError(`found '${after.text}', expected: ',' or 'end of string'`);
      const following = this.peek(true);
      if (following.kind !== "identifier" && following.kind !== "!") {
        throw new SelectorError(`found '${following.text}', expected: identifier after ','`);
      }
    }
  }

  private requirement(): LabelRequirement {
    let token = this.next(true);
    const negated = token.kind === "!";
    if (negated) token = this.next(true);
    if (token.kind !== "identifier") throw new SelectorError(`found '${token.text}', expected: identifier`);
    const key = token.text;
    const keyErrors = qualifiedNameErrors(key);
    // Parse-time key errors carry no field path, which kube prints as "<nil>".
    if (keyErrors.length > 0) throw new SelectorError(`<nil>: Invalid value: ${goQuote(key)}: ${keyErrors.join("; ")}`);
    if (negated) return requirement(key, "!", []);
    const lookahead = this.peek(true).kind;
    if (lookahead === "end" || lookahead === ",") return requirement(key, "exists", []);

    const operator = this.next(false);
    switch (operator.kind) {
      case "in":
      case "notin":
        return requirement(key, operator.kind, this.valueSet());
      case "=":
      case "==":
      case "!=":
      case ">":
      case "<":
        return requirement(key, operator.kind, [this.exactValue()]);
      default:
        throw new SelectorError(`found '${operator.text}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }

  /** "(a,b,…)": sorted and without repeats; an empty entry ("()", "(a,)", "(,a)") is the value "". */
  private valueSet(): string[] {
    const open = this.next(true);
    if (open.kind !== "(") throw new SelectorError(`found '${open.text}' expected: '('`);
    const values = new Set<string>();
    const first = this.peek(true);
    if (first.kind === ")") {
      this.next(true);
      return [""];
    }
    if (first.kind !== "identifier" && first.kind !== ",") {
      throw new SelectorError(`found '${first.text}', expected: ',', ')' or identifier`);
    }
    for (;;) {
      const token = this.next(true);
      if (token.kind === "identifier") {
        values.add(token.text);
        const after = this.peek(true);
        if (after.kind === ")") break;
        if (after.kind !== ",") throw new SelectorError(`found '${after.text}', expected: ',' or ')'`);
      } else if (token.kind === ",") {
        if (values.size === 0) values.add("");
        const after = this.peek(true).kind;
        if (after === ")") {
          values.add("");
          break;
        }
        if (after === ",") values.add("");
      } else {
        throw new SelectorError(`found '${token.text}', expected: ',', or identifier`);
      }
    }
    this.next(true);
    return [...values].sort();
  }

  /** The value after =, ==, !=, > or <; none at all ("a=", "a=,b") is the value "". */
  private exactValue(): string {
    const lookahead = this.peek(true).kind;
    if (lookahead === "end" || lookahead === ",") return "";
    const token = this.next(true);
    if (token.kind !== "identifier") throw new SelectorError(`found '${token.text}', expected: identifier`);
    return token.text;
  }
}

/** Parses ?labelSelector=. The result is sorted by key; [] (from "") selects everything. */
export function parseLabelSelector(text: string): LabelRequirement[] {
  return sortedByKey(new LabelSelectorParser(lex(text)).parse());
}

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

const EXPRESSION_OPERATORS: Record<string, LabelOperator> = { In: "in", NotIn: "notin", Exists: "exists", DoesNotExist: "!" };

/**
 * metav1.LabelSelectorAsSelector: a missing selector selects nothing, an empty one everything.
 * Throws SelectorError, worded as kube's, for an invalid key, value or operator.
 */
export function labelSelectorFromObject(selector: LabelSelectorObject | undefined | null): LabelRequirement[] | "nothing" {
  if (selector === null || selector === undefined) return "nothing";
  const matchLabels = Object.entries(selector.matchLabels ?? {});
  const expressions = selector.matchExpressions ?? [];
  const requirements: LabelRequirement[] = [];
  for (const [key, value] of matchLabels) requirements.push(requirement(key, "=", [value]));
  for (const expression of expressions) {
    const name = String(expression.operator ?? "");
    const operator = Object.hasOwn(EXPRESSION_OPERATORS, name) ? EXPRESSION_OPERATORS[name]! : undefined;
    if (operator === undefined) throw new SelectorError(`${goQuote(name)} is not a valid label selector operator`);
    requirements.push(requirement(expression.key, operator, [...(expression.values ?? [])]));
  }
  return sortedByKey(requirements);
}

// ---------------------------------------------------------------------------------------------
// ?fieldSelector= (fields.ParseSelector)

/** Splits on commas that are not escaped; the escapes stay for unescapeFieldValue. */
function splitFieldTerms(text: string): string[] {
  if (text === "") return [];
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (escaped) escaped = false;
    else if (ch === "\\") escaped = true;
    else if (ch === ",") {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms;
}

const FIELD_OPERATORS = ["!=", "==", "="] as const;

/** The first operator ends the field: fields have no escapes, so even a "\=" splits there. */
function splitFieldTerm(term: string): { field: string; operator: FieldRequirement["operator"]; raw: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const operator of FIELD_OPERATORS) {
      if (term.startsWith(operator, i)) return { field: term.slice(0, i), operator, raw: term.slice(i + operator.length) };
    }
  }
  return undefined;
}

/** Values escape "\", "," and "=" with a backslash; any other escape, or a bare "," or "=", is refused. */
function unescapeFieldValue(raw: string): string {
  let value = "";
  let escaped = false;
  for (const ch of raw) {
    if (escaped) {
      if (ch !== "\\" && ch !== "," && ch !== "=") throw new SelectorError(`invalid field selector: invalid escape sequence: \\${ch}`);
      value += ch;
      escaped = false;
    } else if (ch === "\\") {
      escaped = true;
    } else if (ch === "," || ch === "=") {
      // kube prints the rune as its number (Go's %v of a rune).
      throw new SelectorError(`invalid field selector: unescaped character in value: ${ch.codePointAt(0)}`);
    } else {
      value += ch;
    }
  }
  if (escaped) throw new SelectorError("invalid field selector: invalid escape sequence: \\");
  return value;
}

/**
 * Parses ?fieldSelector=. Terms come back sorted as kube sorts them; [] (from "") selects
 * everything. Which fields a resource supports is the registry's business, not the parser's.
 */
export function parseFieldSelector(text: string): FieldRequirement[] {
  const requirements: FieldRequirement[] = [];
  for (const term of splitFieldTerms(text).sort()) {
    if (term === "") continue;
    const split = splitFieldTerm(term);
    if (!split) throw new SelectorError(`invalid selector: '${text}'; can't understand '${term}'`);
    requirements.push({ field: split.field, operator: split.operator, value: unescapeFieldValue(split.raw) });
  }
  return requirements;
}

/** All requirements hold; a field the object lacks has the value "". */
export function matchesFields(requirements: readonly FieldRequirement[], fields: Record<string, string>): boolean {
  return requirements.every((r) => {
    const value = Object.hasOwn(fields, r.field) ? fields[r.field] : "";
    return r.operator === "!=" ? value !== r.value : value === r.value;
  });
}

// ---------------------------------------------------------------------------------------------
// metadata.labels and metadata.annotations

/**
 * The entries of a string map. A value of another shape, which kube's decoder would refuse, is
 * reported as a type error; JSON null decodes to "" in Go, so kube accepts it and so do we.
 */
function stringEntries(map: unknown, path: string, errors: FieldError[]): [string, string][] {
  if (map === undefined || map === null) return [];
  if (typeof map !== "object" || Array.isArray(map)) {
    errors.push({ reason: "FieldValueTypeInvalid", field: path, message: "must be of type object", value: map });
    return [];
  }
  const entries: [string, string][] = [];
  for (const [key, value] of Object.entries(map)) {
    if (typeof value === "string" || value === null) entries.push([key, value ?? ""]);
    else errors.push({ reason: "FieldValueTypeInvalid", field: `${path}[${key}]`, message: "must be of type string", value });
  }
  return entries;
}

/** ValidateLabels: every key a qualified name, every value a label value. */
export function validateLabels(labels: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of stringEntries(labels, path, errors)) {
    for (const message of qualifiedNameErrors(key)) errors.push({ reason: "FieldValueInvalid", field: path, message, value: key });
    for (const message of labelValueErrors(value)) errors.push({ reason: "FieldValueInvalid", field: path, message, value });
  }
  return errors;
}

/** ValidateAnnotations: keys are qualified names in any case; keys and values total at most 256 KiB. */
export function validateAnnotations(annotations: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  let size = 0;
  for (const [key, value] of stringEntries(annotations, path, errors)) {
    for (const message of qualifiedNameErrors(key.toLowerCase())) errors.push({ reason: "FieldValueInvalid", field: path, message, value: key });
    size += byteLength(key) + byteLength(value);
  }
  if (size > ANNOTATIONS_SIZE_LIMIT) {
    errors.push({ reason: "FieldValueTooLong", field: path, message: `may not be more than ${ANNOTATIONS_SIZE_LIMIT} bytes` });
  }
  return errors;
}
