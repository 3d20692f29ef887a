// What every handler knows about a request: its bindings and who is asking.

/** An authenticated identity, shaped as Kubernetes' user.Info so RBAC can use it as is. */
export interface UserInfo {
  name: string;
  uid: string;
  groups: string[];
}

export interface AppEnv {
  Bindings: Env;
  Variables: { user: UserInfo };
}
