// Waiting in e2e suites: poll a condition until it holds or a deadline passes (never a bare sleep).

export interface UntilOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What to add to the time-out's message (an agent's last output). */
  detail?: () => string;
}

/** Polls `probe` until it answers something other than undefined; a probe that throws has not answered yet. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, options: UntilOptions = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 200, detail } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail ? `\n${detail()}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Polls `check` until it holds or the deadline passes; unlike `until`, a check that throws fails the wait at once. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail ? `\n${detail()}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
