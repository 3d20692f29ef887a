// etcd's errors as gRPC status codes and messages, worded as etcd words them, and their HTTP
// status in the JSON gateway.

export const GrpcCode = {
  InvalidArgument: 3,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  Unauthenticated: 16,
} as const;

export interface EtcdError {
  code: number;
  message: string;
}

/** Thrown inside the store and the gateway; turned into an error answer at the boundary. */
export class EtcdFailure extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
  toJSON(): EtcdError {
    return { code: this.code, message: this.message };
  }
}

const fail = (code: number, message: string) => () => new EtcdFailure(code, message);

export const errors = {
  emptyKey: fail(GrpcCode.InvalidArgument, "etcdserver: key is not provided"),
  keyNotFound: fail(GrpcCode.InvalidArgument, "etcdserver: key not found"),
  valueProvided: fail(GrpcCode.InvalidArgument, "etcdserver: value is provided"),
  leaseProvided: fail(GrpcCode.InvalidArgument, "etcdserver: lease is provided"),
  tooManyOps: fail(GrpcCode.InvalidArgument, "etcdserver: too many operations in txn request"),
  duplicateKey: fail(GrpcCode.InvalidArgument, "etcdserver: duplicate key given in txn request"),
  requestTooLarge: fail(GrpcCode.InvalidArgument, "etcdserver: request is too large"),
  compacted: fail(GrpcCode.OutOfRange, "etcdserver: mvcc: required revision has been compacted"),
  futureRevision: fail(GrpcCode.OutOfRange, "etcdserver: mvcc: required revision is a future revision"),
  leaseNotFound: fail(GrpcCode.NotFound, "etcdserver: requested lease not found"),
  leaseExists: fail(GrpcCode.FailedPrecondition, "etcdserver: lease already exists"),
  leaseTTLTooLarge: fail(GrpcCode.OutOfRange, "etcdserver: too large lease TTL"),
  invalidRange: fail(GrpcCode.InvalidArgument, "etcdserver: range end must be greater than key"),
  badRequest: (message: string) => new EtcdFailure(GrpcCode.InvalidArgument, message),
};

export type StoreResult<T> = { ok: true; value: T } | { ok: false; error: EtcdError };

/** Runs a store operation, answering its EtcdFailure as a value that crosses RPC intact. */
export function settle<T>(operation: () => T): StoreResult<T> {
  try {
    return { ok: true, value: operation() };
  } catch (e) {
    if (e instanceof EtcdFailure) return { ok: false, error: e.toJSON() };
    throw e;
  }
}

const httpStatusOfCode: Record<number, number> = {
  1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 412, 10: 409,
  11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
};

export function httpStatusOf(code: number): number {
  return httpStatusOfCode[code] ?? 500;
}
