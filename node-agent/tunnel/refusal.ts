// A stream the agent will not serve (its reply's status and message), shared by the stream servers.

/** A stream the agent will not serve: the reply's status and kube's words. */
export class Refusal extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}
