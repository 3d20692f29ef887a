// The etcd v3 request and response messages as the store speaks them over RPC: etcd's field
// names, keys and values as bytes, int64 fields as numbers (revisions and lease ids stay below 2^53).

export type Bytes = Uint8Array;

export interface ResponseHeader {
  revision: number;
}

export interface KeyValue {
  key: Bytes;
  create_revision: number;
  mod_revision: number;
  version: number;
  value: Bytes;
  lease: number;
}

export type SortOrder = "NONE" | "ASCEND" | "DESCEND";
export type SortTarget = "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";

export interface RangeRequest {
  key: Bytes;
  range_end?: Bytes;
  limit?: number;
  revision?: number;
  sort_order?: SortOrder;
  sort_target?: SortTarget;
  serializable?: boolean;
  keys_only?: boolean;
  count_only?: boolean;
  min_mod_revision?: number;
  max_mod_revision?: number;
  min_create_revision?: number;
  max_create_revision?: number;
  /**
   * edgeplane's own, from the apiserver only (etcd has no such field, and the gateway takes none):
   * only keys whose value may hold every one of these texts (lib/etcd/stored-text-filter.ts), and
   * `count` counts those. A node's read of its own pods is then not sent every other node's.
   */
  value_contains?: string[];
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key: Bytes;
  value?: Bytes;
  lease?: number;
  prev_kv?: boolean;
  ignore_value?: boolean;
  ignore_lease?: boolean;
}

export interface PutResponse {
  header: ResponseHeader;
  prev_kv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: Bytes;
  range_end?: Bytes;
  prev_kv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prev_kvs: KeyValue[];
}

export type CompareTarget = "VERSION" | "CREATE" | "MOD" | "VALUE" | "LEASE";
export type CompareResult = "EQUAL" | "GREATER" | "LESS" | "NOT_EQUAL";

export interface Compare {
  key: Bytes;
  range_end?: Bytes;
  target: CompareTarget;
  result: CompareResult;
  version?: number;
  create_revision?: number;
  mod_revision?: number;
  value?: Bytes;
  lease?: number;
}

export type RequestOp =
  | { request_range: RangeRequest }
  | { request_put: PutRequest }
  | { request_delete_range: DeleteRangeRequest }
  | { request_txn: TxnRequest };

export type ResponseOp =
  | { response_range: RangeResponse }
  | { response_put: PutResponse }
  | { response_delete_range: DeleteRangeResponse }
  | { response_txn: TxnResponse };

export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  physical?: boolean;
}

export interface CompactionResponse {
  header: ResponseHeader;
}

export interface LeaseGrantRequest {
  TTL: number;
  ID?: number;
}

export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: number;
  TTL: number;
}

export interface LeaseKeepAliveResponse {
  header: ResponseHeader;
  ID: number;
  TTL: number;
}

export interface LeaseTimeToLiveRequest {
  ID: number;
  keys?: boolean;
}

export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID: number;
  TTL: number;
  grantedTTL: number;
  keys: Bytes[];
}

export interface LeaseLeasesResponse {
  header: ResponseHeader;
  leases: { ID: number }[];
}

export type EventType = "PUT" | "DELETE";

export interface Event {
  type: EventType;
  kv: KeyValue;
  prev_kv?: KeyValue;
}

export type WatchFilter = "NOPUT" | "NODELETE";

export interface WatchCreateRequest {
  key: Bytes;
  range_end?: Bytes;
  start_revision?: number;
  progress_notify?: boolean;
  filters?: WatchFilter[];
  prev_kv?: boolean;
  watch_id?: number;
  fragment?: boolean;
  /**
   * edgeplane's own (etcd has no such field): texts an event's value or previous value must hold
   * for the watcher to be sent it (lib/etcd/stored-text-filter.ts). The apiserver names them for
   * selective watches, so a node's watch of its own pods is not sent every other node's.
   */
  value_contains?: string[];
  /**
   * edgeplane's own: with prev_kv, only DELETE events carry the value before; a watcher that must
   * say what was deleted but not what an update replaced (the apiserver's watches without a
   * selector) is sent half the bytes, and puts under its range need not read the key first.
   */
  prev_kv_only_deletes?: boolean;
}

export type WatchRequest =
  | { create_request: WatchCreateRequest }
  | { cancel_request: { watch_id: number } }
  | { progress_request: Record<string, never> };

export interface WatchResponse {
  header: ResponseHeader;
  watch_id: number;
  created?: boolean;
  canceled?: boolean;
  compact_revision?: number;
  cancel_reason?: string;
  events?: Event[];
}
