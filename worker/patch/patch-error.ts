// The one error the patch modules throw: the HTTP code, Status reason and message kube-apiserver
// answers for the same failure, so the PATCH handler turns it into a Status unchanged.

export class PatchError extends Error {
  constructor(
    readonly code: 400 | 413 | 422 | 500,
    /** Status reason; "" where kube answers a bare error (500 with no reason). */
    readonly reason: "BadRequest" | "RequestEntityTooLarge" | "Invalid" | "",
    message: string,
    /** What exactly failed, where kube's own message says less (a JSON patch op that did not apply). */
    readonly detail?: string,
  ) {
    super(message);
    this.name = "PatchError";
  }

  static badRequest(message: string): PatchError {
    return new PatchError(400, "BadRequest", message);
  }

  /** kube-apiserver's 422 for a patch that is well formed but cannot be applied. */
  static unprocessable(detail: string): PatchError {
    return new PatchError(422, "Invalid", "the server rejected our request due to an error in our request", detail);
  }

  /** A failure kube-apiserver reports as a plain error: 500 and the message as is. */
  static internal(message: string): PatchError {
    return new PatchError(500, "", message);
  }
}
