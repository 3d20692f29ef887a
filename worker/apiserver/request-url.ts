// A request's URL, parsed once: the load balancer, post-start hooks, audit, authorization and the
// resource path all read it, and each parse is a native call on the one busy thread.
const parsed = new WeakMap<Request, URL>();

/** The request's URL; the same object for every caller, so read it, never change it. */
export function requestUrl(request: Request): URL {
  let url = parsed.get(request);
  if (!url) parsed.set(request, (url = new URL(request.url)));
  return url;
}
