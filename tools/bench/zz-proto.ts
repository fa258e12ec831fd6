import * as yaml from "js-yaml";
const t0 = Date.now();
import { planStack } from "../planner";
import { renderFleetRepository } from "../../render/fleetRepo";
import { loadStackSpec } from "../../stacks/stackFiles";
const N = Number(process.argv[2]), M = Number(process.argv[3]);
function overrides() {
  const clusters = Array.from({ length: N }, (_, i) => ({ name: `wc-${String(i).padStart(4, "0")}`, labels: { tier: i % 3 === 0 ? "prod" : "dev", region: ["eu", "us", "ap"][i % 3] } }));
  const extra = [
    { name: "cert-manager", selector: { "fleet-bootstrap.io/role": "workload" }, helm: { repoURL: "https://charts.jetstack.io", chartName: "cert-manager", version: "v1.18.2" } },
    { name: "metrics-server", selector: { "fleet-bootstrap.io/role": "workload" }, helm: { repoURL: "https://kubernetes-sigs.github.io/metrics-server/", chartName: "metrics-server", version: "3.13.0" } },
    { name: "ingress-nginx", selector: { tier: "prod" }, helm: { repoURL: "https://kubernetes.github.io/ingress-nginx", chartName: "ingress-nginx", version: "4.13.2" } },
    { name: "external-dns", selector: { tier: "prod" }, helm: { repoURL: "https://kubernetes-sigs.github.io/external-dns/", chartName: "external-dns", version: "1.19.0" } },
    { name: "network-policies", selector: { "fleet-bootstrap.io/role": "workload" }, manifests: { path: "tools/bench/fixtures/network-policies.yaml" } },
    { name: "priority-classes", selector: { "fleet-bootstrap.io/role": "workload" }, manifests: { path: "tools/bench/fixtures/priority-classes.yaml" } },
    { name: "node-agent", selector: { tier: "dev" }, manifests: { path: "tools/bench/fixtures/node-agent.yaml" } },
  ].slice(0, M - 3);
  return { workloadClusters: yaml.dump(clusters), bootstrapModules: yaml.dump(extra) };
}
(async () => {
  const t1 = Date.now();
  for (let k = 0; k < 2; k++) {
    const a = Date.now();
    const r = await planStack({ stack: "local", overrides: overrides() });
    if (!r.ok) { console.log(r.errors); return; }
    const b = Date.now();
    const files = renderFleetRepository(r.plan.spec);
    const c = Date.now();
    const nm = [...r.plan.manifests.values()].reduce((n, m) => n + m.length, 0);
    console.log({ k, load: t1 - t0, plan: b - a, render: c - b, res: r.plan.resources.length, manifests: nm, files: files.size, targets: r.plan.manifests.size, rss: process.resourceUsage().maxRSS / 1024 });
  }
})();
