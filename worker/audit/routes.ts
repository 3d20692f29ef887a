// Reading the audit log: GET /audit/v1/events answers an audit.k8s.io/v1 EventList, oldest first,
// to cluster-admins (system:masters) only. Authentication is the mounting app's middleware's.
import { Hono } from "hono";
import { requestAttributes } from "../authz/attributes.ts";
import { forbidden, SYSTEM_MASTERS } from "../authz/rbac.ts";
import { apiErrors, statusResponse } from "../../lib/k8s/status.ts";
import type { AppEnv, UserInfo } from "../context.ts";
import { AuditQueryError, listAuditEvents, parseMicroTime } from "./log.ts";

const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 5000;

export const auditRoutes = new Hono<AppEnv>();

auditRoutes.get("/audit/v1/events", async (c) => {
  const user = c.get("user") as UserInfo | undefined;
  if (!user) return statusResponse(apiErrors.unauthorized());
  if (!user.groups.includes(SYSTEM_MASTERS)) return statusResponse(forbidden(requestAttributes(c.req.method, new URL(c.req.url), user)));

  const since = c.req.query("since");
  const sinceMicros = since === undefined ? undefined : parseMicroTime(since);
  if (since !== undefined && sinceMicros === undefined) {
    return statusResponse(apiErrors.badRequest(`since: Invalid value: "${since}": must be an RFC 3339 time`));
  }
  const limitText = c.req.query("limit");
  const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    return statusResponse(apiErrors.badRequest(`limit: Invalid value: "${limitText}": must be a whole number from 1 to ${MAX_LIMIT}`));
  }
  try {
    return c.json(await listAuditEvents(c.env, { sinceMicros, limit, continueToken: c.req.query("continue") }));
  } catch (e) {
    if (e instanceof AuditQueryError) return statusResponse(apiErrors.badRequest(e.message));
    throw e;
  }
});
