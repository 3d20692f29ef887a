// Services on a real node (as root): the agent bundle joins a control plane on the cri runtime in a
// network namespace of its own (its iptables and DNS port apart from any other agent on this host),
// and real kubectl drives it: a Deployment of three busybox httpd pods, each answering its own
// hostname, exposed with `kubectl expose`; a client pod reaches all three through the ClusterIP and
// through the Service's name (the agent's cluster DNS behind kube-dns); `nslookup` finds the
// kubernetes Service from a pod; a NodePort answers from the host; a headless Service resolves to
// the pods' addresses; scaled to 0 the ClusterIP refuses connections at once; `edgeplane-agent cleanup`
// leaves no rule or chain of the proxy behind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubectlHarness } from "../support/kubectl.ts";
import { askScript, backendsIn, kubectl, ServicesNode, sh } from "../support/services.ts";

const NODE = "e2e-services";
const NETNS = "ep-e2e-svc";
const NODE_IP = "10.99.78.2";
// Pod ranges clear of the other e2e suites' and npm start's; this suite checks the iptables mode's chains.
const node = new ServicesNode({ prefix: "services-e2e-", node: NODE, netns: NETNS, hostIP: "10.99.78.1", nodeIP: NODE_IP, veth: "ep-e2e-svcveth", bridge: "ep-svc0", clusterCIDR: "10.247.0.0/16", proxyMode: "iptables" });
let harness: KubectlHarness;

beforeAll(async () => {
  await node.start();
  harness = node.harness;
});

afterAll(() => node.stop());

const create = (object: object) => node.create(object);
const get = (...args: string[]) => node.get(...args);
const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) => node.until(what, probe, timeoutMs);
const runClient = (name: string, script: string) => node.runClient(name, script);

describe("Services on a node agent", () => {
  let clusterIP = "";

  it("the node joins, its pods resolve names through the cluster DNS at kube-dns's ClusterIP", async () => {
    await node.join();
    expect(await get("service", "kube-dns", "-n", "kube-system", "-o", "jsonpath={.spec.clusterIP}")).toBe("10.96.0.10");
    // The full name: busybox's nslookup (past 1.28) does not apply the search list.
    const lookup = await runClient("lookup", "cat /etc/resolv.conf; nslookup kubernetes.default.svc.cluster.local");
    expect(lookup.log).toContain("nameserver 10.96.0.10");
    expect(lookup.log).toContain("search default.svc.cluster.local svc.cluster.local cluster.local");
    expect(lookup.log).toContain("options ndots:5");
    expect(lookup.log).toMatch(/Address:?\s+10\.96\.0\.1\s*$/m);
    expect(lookup.phase, lookup.log).toBe("Succeeded");
  });

  it("a Deployment exposed with kubectl expose answers from all its pods by ClusterIP and by name", async () => {
    await harness.ok(kubectl, "create", "deployment", "web", "--image=busybox", "--replicas=3", "--",
      // httpd in the background and a shell that ends on SIGTERM, so scaling down takes seconds, not the grace period.
      "sh", "-c", "mkdir -p /www && hostname > /www/index.html && httpd -p 8080 -h /www && trap 'exit 0' TERM && while :; do sleep 1 & wait $!; done");
    await harness.ok(kubectl, "expose", "deployment", "web", "--port=80", "--target-port=8080");
    clusterIP = await get("service", "web", "-o", "jsonpath={.spec.clusterIP}");
    await until("three ready endpoints", async () => {
      const ready = await get("endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}");
      return ready.split(" ").filter(Boolean).length === 3 ? true : undefined;
    }, 120_000);
    const byIP = await runClient("by-ip", askScript(clusterIP, 30));
    expect(byIP.phase, byIP.log).toBe("Succeeded");
    expect(backendsIn(byIP.log).size, byIP.log).toBe(3);
    const byName = await runClient("by-name", askScript("web", 10));
    expect(byName.phase, byName.log).toBe("Succeeded");
  });

  it("a NodePort answers from the host, and a headless Service resolves to the pods' addresses", async () => {
    await harness.ok(kubectl, "expose", "deployment", "web", "--name=web-nodeport", "--type=NodePort", "--port=80", "--target-port=8080");
    await harness.ok(kubectl, "expose", "deployment", "web", "--name=web-headless", "--cluster-ip=None", "--port=80", "--target-port=8080");
    const nodePort = await get("service", "web-nodeport", "-o", "jsonpath={.spec.ports[0].nodePort}");
    // From this host, through the veth, to the node's address.
    const answers: string[] = [];
    await until("the NodePort to answer 10 times", async () => {
      answers.push((await (await fetch(`http://${NODE_IP}:${nodePort}/`, { signal: AbortSignal.timeout(3000) })).text()).trim());
      return answers.length >= 10 ? true : undefined;
    });
    expect(answers.every((a) => a.startsWith("web-")), answers.join(",")).toBe(true);
    const podIPs = await until("the headless Service's three ready endpoints", async () => {
      const ready = await get("endpointslices", "-l", "kubernetes.io/service-name=web-headless", "-o", "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}");
      const ips = ready.split(" ").filter(Boolean);
      return ips.length === 3 ? ips : undefined;
    });
    const lookup = await runClient("headless", "nslookup web-headless.default.svc.cluster.local");
    expect(lookup.phase, lookup.log).toBe("Succeeded");
    for (const ip of podIPs) expect(lookup.log).toMatch(new RegExp(`Address:?\\s+${ip.replaceAll(".", "\\.")}\\s*$`, "m"));
  });

  it("scaled to 0, the ClusterIP refuses connections at once", async () => {
    await harness.ok(kubectl, "scale", "deployment", "web", "--replicas=0");
    await until("no endpoints", async () => {
      const ready = await get("endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "jsonpath={.items[*].endpoints[*].addresses[0]}");
      return ready.trim() === "" ? true : undefined;
    }, 60_000);
    // Refused, not timed out: the whole attempt well within nc's 5 s.
    const refused = await runClient("refused", `start=$(date +%s); nc -w 5 ${clusterIP} 80 </dev/null; status=$?; echo "took $(( $(date +%s) - start ))s"; test $status -ne 0 && test $(( $(date +%s) - start )) -lt 3`);
    expect(refused.log).toMatch(/Connection refused/);
    expect(refused.phase, refused.log).toBe("Succeeded");
  });

  it("edgeplane-agent cleanup leaves no rule or chain of the service proxy", async () => {
    await node.stopAgent();
    expect(sh("ip", ["netns", "exec", NETNS, "iptables-save"])).toContain("EDGEPLANE-SERVICES");
    const cleaned = node.cleanup();
    expect(cleaned).toMatch(/deleted \d+ nat and \d+ filter chains of the service proxy/);
    expect(sh("ip", ["netns", "exec", NETNS, "iptables-save"])).not.toContain("EDGEPLANE");
  });
});
