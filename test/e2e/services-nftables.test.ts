// Services on a real node in nftables mode (as root, nft installed): the agent joins with its
// default --proxy-mode=auto in a network namespace of its own, chooses nftables and says so (its
// log, the Node's annotation and Event, /proxyMode on 127.0.0.1:10249); a Deployment of three
// busybox httpd pods exposed with `kubectl expose` answers from all three through the ClusterIP,
// and by name through kube-dns's ClusterIP; a NodePort answers from the host; scaled to 0 the
// ClusterIP refuses connections at once (reject, not a time-out); `edgeplane-agent cleanup` leaves
// no table of ours and no iptables chain either.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { askScript, backendsIn, kubectl, ServicesNode } from "../support/services.ts";

const NODE = "e2e-nftables";
const NODE_IP = "10.99.80.2";
const node = new ServicesNode({ prefix: "services-nft-e2e-", node: NODE, netns: "ep-e2e-nft", hostIP: "10.99.80.1", nodeIP: NODE_IP, veth: "ep-e2e-nftveth", bridge: "ep-nft0", clusterCIDR: "10.251.0.0/16" });

beforeAll(() => node.start());
afterAll(() => node.stop());

describe("Services on a node agent in nftables mode", () => {
  let clusterIP = "";

  it("the agent chooses nftables on its own and says so: log, Node annotation and Event, /proxyMode", async () => {
    await node.join();
    await node.until("the agent to log its proxy mode", async () => (node.output.includes("service proxy in nftables mode") ? true : undefined));
    expect(node.output).toMatch(/service proxy in nftables mode: --proxy-mode=auto: the kernel and nft \d+\.\d+\.\d+ support nftables mode/);
    const annotation = await node.until("the Node's proxy-mode annotation", async () => (await node.get("node", NODE, "-o", "jsonpath={.metadata.annotations.edgeplane\\.dev/proxy-mode}")) || undefined);
    expect(annotation).toBe("nftables");
    const events = await node.until("the Node's Starting event from kube-proxy", async () => {
      const list = JSON.parse(await node.get("events", "-n", "default", "-o", "json")) as { items: { involvedObject: { kind?: string; name?: string }; reason?: string; source?: { component?: string }; message?: string }[] };
      const found = list.items.filter((e) => e.involvedObject.kind === "Node" && e.involvedObject.name === NODE && e.reason === "Starting" && e.source?.component === "kube-proxy");
      return found.length ? found.map((e) => `${e.source!.component}: ${e.message}`).join("\n") : undefined;
    });
    expect(events).toMatch(/kube-proxy: Started the service proxy in nftables mode: --proxy-mode=auto/);
    expect(node.inNode("curl", "-s", "http://127.0.0.1:10249/proxyMode")).toBe("nftables");
    expect(node.inNode("nft", "list", "tables")).toContain("table ip edgeplane");
  });

  it("a ClusterIP balances over all three pods of a Deployment exposed with kubectl expose, and its name resolves", async () => {
    await node.harness.ok(kubectl, "create", "deployment", "web", "--image=busybox", "--replicas=3", "--",
      "sh", "-c", "mkdir -p /www && hostname > /www/index.html && httpd -p 8080 -h /www && trap 'exit 0' TERM && while :; do sleep 1 & wait $!; done");
    await node.harness.ok(kubectl, "expose", "deployment", "web", "--port=80", "--target-port=8080");
    clusterIP = await node.get("service", "web", "-o", "jsonpath={.spec.clusterIP}");
    await node.until("three ready endpoints", async () => ((await node.readyEndpoints("web")).length === 3 ? true : undefined), 120_000);
    // The ClusterIP is an element of the service-ips map, not a rule of its own; the proxy's next sync
    // (at most a second apart) puts it there, and the Service's chain picks among all three endpoints.
    await node.until("the ClusterIP in the service-ips map", async () =>
      (node.inNode("nft", "list", "map", "ip", "edgeplane", "service-ips").includes(`${clusterIP} . tcp . 80 : goto service-`) ? true : undefined));
    await node.until("the Service's chain over three endpoints", async () =>
      (node.inNode("nft", "list", "table", "ip", "edgeplane").includes("numgen random mod 3 vmap") ? true : undefined));
    const byIP = await node.runClient("by-ip", askScript(clusterIP, 30));
    expect(byIP.phase, byIP.log).toBe("Succeeded");
    expect(backendsIn(byIP.log).size, byIP.log).toBe(3);
    // By name: the pod's resolver is kube-dns's ClusterIP, which the table leads to the node's own DNS server.
    const byName = await node.runClient("by-name", askScript("web", 5));
    expect(byName.phase, byName.log).toBe("Succeeded");
  });

  it("a NodePort answers from the host", async () => {
    await node.harness.ok(kubectl, "expose", "deployment", "web", "--name=web-nodeport", "--type=NodePort", "--port=80", "--target-port=8080");
    const nodePort = await node.get("service", "web-nodeport", "-o", "jsonpath={.spec.ports[0].nodePort}");
    const answers: string[] = [];
    await node.until("the NodePort to answer 10 times", async () => {
      answers.push((await (await fetch(`http://${NODE_IP}:${nodePort}/`, { signal: AbortSignal.timeout(3000) })).text()).trim());
      return answers.length >= 10 ? true : undefined;
    });
    expect(answers.every((a) => a.startsWith("web-")), answers.join(",")).toBe(true);
  });

  it("scaled to 0, the ClusterIP refuses connections at once", async () => {
    await node.harness.ok(kubectl, "scale", "deployment", "web", "--replicas=0");
    await node.until("no endpoints", async () => {
      const any = await node.get("endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "jsonpath={.items[*].endpoints[*].addresses[0]}");
      return any.trim() === "" ? true : undefined;
    });
    await node.until("the ClusterIP in the reject map", async () => (node.inNode("nft", "list", "map", "ip", "edgeplane", "no-endpoint-services").includes(`${clusterIP} . tcp . 80 : goto reject-chain`) ? true : undefined));
    const refused = await node.runClient("refused", `start=$(date +%s); nc -w 5 ${clusterIP} 80 </dev/null; status=$?; echo "took $(( $(date +%s) - start ))s"; test $status -ne 0 && test $(( $(date +%s) - start )) -lt 3`);
    expect(refused.log).toMatch(/Connection refused/);
    expect(refused.phase, refused.log).toBe("Succeeded");
  });

  it("edgeplane-agent cleanup leaves no table of the service proxy", async () => {
    await node.stopAgent();
    expect(node.inNode("nft", "list", "tables")).toContain("table ip edgeplane");
    expect(node.cleanup()).toContain("deleted the nftables table ip edgeplane of the service proxy");
    expect(node.inNode("nft", "list", "tables")).not.toContain("edgeplane");
    expect(node.inNode("iptables-save")).not.toContain("EDGEPLANE");
  });
});
