// A plugin's verdict (framework.Status): a code, the reasons shown to users, and the plugin that
// gave it. Success is `undefined`, as kube's nil status.

export const Code = {
  Success: 0,
  /** An internal error: the pod is retried with back-off. */
  Error: 1,
  /** Rejected, but preemption might help. */
  Unschedulable: 2,
  /** Rejected, and preemption cannot help. */
  UnschedulableAndUnresolvable: 3,
  Wait: 4,
  /** Skip this plugin's later extension points for this pod (PreFilter, PreScore only). */
  Skip: 5,
  Pending: 6,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

const CODE_NAMES = ["Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Wait", "Skip", "Pending"] as const;

export class Status {
  plugin = "";

  readonly code: Code;
  readonly reasons: readonly string[];

  constructor(code: Code, reasons: readonly string[] = []) {
    this.code = code;
    this.reasons = reasons;
  }

  /** Reasons joined as kube's Status.Message(). */
  get message(): string {
    return this.reasons.join(", ");
  }

  get codeName(): string {
    return CODE_NAMES[this.code];
  }

  /** Unschedulable or UnschedulableAndUnresolvable. */
  get rejected(): boolean {
    return this.code === Code.Unschedulable || this.code === Code.UnschedulableAndUnresolvable;
  }

  withPlugin(name: string): this {
    this.plugin = name;
    return this;
  }
}

/** A plugin result: undefined means Success. */
export type Result = Status | undefined;

export const isSuccess = (s: Result): s is undefined => s === undefined || s.code === Code.Success;

export const unschedulable = (...reasons: string[]): Status => new Status(Code.Unschedulable, reasons);
export const unresolvable = (...reasons: string[]): Status => new Status(Code.UnschedulableAndUnresolvable, reasons);
export const asError = (message: string): Status => new Status(Code.Error, [message]);
export const skip = (): Status => new Status(Code.Skip);

/** An exception's message, for a status. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
