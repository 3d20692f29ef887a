// What every handler knows about a request: its bindings and who is asking.

/** An authenticated identity, shaped as Kubernetes' user.Info so RBAC can use it as is. */
export interface UserInfo {
  name: string;
  uid: string;
  groups: string[];
  /** Further facts about the user (e.g. the pod a service account token is bound to). */
  extra?: Record<string, string[]>;
}

export interface AppEnv {
  Bindings: Env;
  Variables: { user: UserInfo };
}
