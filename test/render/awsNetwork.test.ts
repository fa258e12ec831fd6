// Staging on AWS: the security group rules Cilium needs between nodes, derived from the CNI module, and
// what the move does with the management cluster's bootstrap add-ons.
import * as assert from "assert";
import { ciliumIngressRules, renderClusterObjects } from "../../render/capi";
import { renderManagementBootstrap, renderModule } from "../../render/modules";
import type { EnvironmentSpec } from "../../stacks/spec";
import { stagingSpec } from "../fixtures/specs";
import { validateObject } from "../support/validate";

type Obj = { kind: string; metadata: { name: string }; spec: Record<string, unknown> & { network?: { cni?: { cniIngressRules?: unknown[] } }; strategy?: string } };

/** The environment with its Cilium module's values replaced. */
function withCiliumValues(env: EnvironmentSpec, valuesTemplate: string): EnvironmentSpec {
    return {
        ...env,
        bootstrapModules: env.bootstrapModules.map((m) => (m.content.kind === "helm" && m.content.chartName === "cilium" ? { ...m, content: { ...m.content, valuesTemplate } } : m)),
    };
}

describe("AWS: Cilium's node-to-node rules and the moved bootstrap add-ons", () => {
    const env = stagingSpec({ workloads: ["blue"] });

    it("every AWSCluster opens what Cilium documents as required between nodes, instead of CAPA's Calico default", () => {
        for (const cluster of [env.managementCluster, ...env.workloadClusters]) {
            const awsCluster = renderClusterObjects(env, cluster).find((o) => o.kind === "AWSCluster") as unknown as Obj;
            assert.deepStrictEqual(validateObject(awsCluster), [], "valid against CAPA's AWSCluster CRD");
            const rules = awsCluster.spec.network?.cni?.cniIngressRules as Array<{ protocol: string; fromPort: number; toPort: number; description: string }>;
            const open = rules.map((r) => `${r.protocol}/${r.fromPort}-${r.toPort}`);
            assert.deepStrictEqual(open, ["udp/8472-8472", "tcp/4240-4240", "icmp/8-0", "tcp/4244-4244"]);
            assert.ok(!rules.some((r) => /calico|bgp/i.test(r.description) || r.protocol === "4"), "no Calico rules");
        }
    });

    it("follows the Cilium module's values: Geneve, Hubble off, WireGuard, IPsec, native routing", () => {
        const ports = (values: string) => ciliumIngressRules(withCiliumValues(env, values)).map((r) => `${r.protocol}/${r.fromPort}`);
        assert.deepStrictEqual(ports("tunnelProtocol: geneve\nhubble: {enabled: false}\n"), ["udp/6081", "tcp/4240", "icmp/8"]);
        assert.ok(ports("encryption: {enabled: true, type: wireguard}\n").includes("udp/51871"));
        assert.ok(ports("encryption: {enabled: true, type: ipsec}\n").includes("50/-1"));
        assert.deepStrictEqual(ports("routingMode: native\n"), ["-1/-1"]);
        const geneve = renderClusterObjects(withCiliumValues(env, "tunnelProtocol: geneve\n"), env.managementCluster).find((o) => o.kind === "AWSCluster");
        assert.deepStrictEqual(validateObject(geneve), []);
    });

    it("the cloud-controller-manager copy that clusterctl move carries applies once; the environment's module keeps reconciling", () => {
        const bootstrap = renderManagementBootstrap(env) as unknown as Obj[];
        const copy = bootstrap.find((o) => o.kind === "ClusterResourceSet" && o.metadata.name === "cloud-controller-manager-bootstrap");
        assert.strictEqual(copy?.spec.strategy, "ApplyOnce");
        const module = env.bootstrapModules.find((m) => m.name === "cloud-controller-manager")!;
        const own = (renderModule(env, module) as unknown as Obj[]).find((o) => o.kind === "ClusterResourceSet");
        assert.strictEqual(own?.spec.strategy, "Reconcile");
        for (const o of bootstrap) assert.deepStrictEqual(validateObject(o), [], `${o.kind} ${o.metadata.name}`);
    });
});
