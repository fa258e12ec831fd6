// A generated environment for the program-cost benchmark: N workload clusters and M bootstrap modules
// (the defaults cni, flux-operator, flux-instance are always there, so M = 3 means defaults only).
import * as yaml from "js-yaml";

export const defaultModuleCount = 3;

/** Extra modules, helm and manifests (fixtures in tools/bench/fixtures), with selectors of different reach. */
const extraModules = [
    { name: "cert-manager", selector: { "fleet-bootstrap.io/role": "workload" }, helm: { repoURL: "https://charts.jetstack.io", chartName: "cert-manager", version: "v1.18.2" } },
    { name: "network-policies", selector: { "fleet-bootstrap.io/role": "workload" }, manifests: { path: "tools/bench/fixtures/network-policies.yaml" } },
    { name: "ingress-nginx", selector: { tier: "prod" }, helm: { repoURL: "https://kubernetes.github.io/ingress-nginx", chartName: "ingress-nginx", version: "4.13.2" } },
    { name: "priority-classes", selector: { "fleet-bootstrap.io/role": "workload" }, manifests: { path: "tools/bench/fixtures/priority-classes.yaml" } },
    { name: "metrics-server", selector: { "fleet-bootstrap.io/role": "workload" }, helm: { repoURL: "https://kubernetes-sigs.github.io/metrics-server/", chartName: "metrics-server", version: "3.13.0" } },
    { name: "node-agent", selector: { region: "eu" }, manifests: { path: "tools/bench/fixtures/node-agent.yaml" } },
    { name: "external-dns", selector: { tier: "prod" }, helm: { repoURL: "https://kubernetes-sigs.github.io/external-dns/", chartName: "external-dns", version: "1.19.0" } },
];

export const maxModules = defaultModuleCount + extraModules.length;

export function clusterName(index: number): string {
    return `wc-${String(index).padStart(4, "0")}`;
}

/** Config overrides (keys of Pulumi.yaml's `config:`) as the Pulumi CLI passes them: YAML strings. */
export function fleetOverrides(clusters: number, modules: number): Record<string, string> {
    if (!Number.isInteger(clusters) || clusters < 1) throw new Error(`clusters: got ${clusters}; expected a positive integer`);
    if (!Number.isInteger(modules) || modules < defaultModuleCount || modules > maxModules) {
        throw new Error(`modules: got ${modules}; expected ${defaultModuleCount}..${maxModules} (the ${defaultModuleCount} defaults plus up to ${extraModules.length} extra)`);
    }
    // Cluster 0 is prod and in eu, so every extra module selects at least one cluster even at N = 1.
    const workloadClusters = Array.from({ length: clusters }, (_, i) => ({
        name: clusterName(i),
        labels: { tier: i % 3 === 0 ? "prod" : "dev", region: ["eu", "us", "ap"][i % 3] },
    }));
    return {
        workloadClusters: yaml.dump(workloadClusters, { lineWidth: -1 }),
        bootstrapModules: yaml.dump(extraModules.slice(0, modules - defaultModuleCount), { lineWidth: -1 }),
    };
}
