// Bad input the upstream tools would refuse late (or never), rejected before anything is created, each
// problem naming the key and the fix.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseConfig } from "../../stacks/config";
import { loadRawConfig, loadStackSpec, repoRoot } from "../../stacks/stackFiles";
import { parseArgs as planArgs } from "../../tools/plan";
import { parseArgs as renderArgs } from "../../tools/render";

function errorsFor(overrides: Record<string, unknown>, stack = "local"): string[] {
    const result = loadStackSpec(stack, overrides);
    assert.ok(!result.ok, `expected ${JSON.stringify(overrides)} to be rejected`);
    return result.errors;
}

function assertError(errors: string[], ...parts: string[]): void {
    assert.ok(errors.some((e) => parts.every((p) => e.includes(p))), `no error mentions all of ${JSON.stringify(parts)}; errors were:\n  ${errors.join("\n  ")}`);
}

const helmModule = (valuesTemplate: string) =>
    `- name: ingress\n  selector: {tier: general}\n  helm: {repoURL: https://charts.example.com, chartName: x, version: 1.0.0, valuesTemplate: ${JSON.stringify(valuesTemplate)}}\n`;

describe("bad input, rejected before anything is created", () => {
    it("a service network wider than kube-apiserver accepts (more than 20 host bits before v1.34)", () => {
        assertError(errorsFor({ serviceCidr: "10.0.0.0/8" }), "fleet-bootstrap:serviceCidr:", '"10.0.0.0/8"', "a /12 or narrower network", "kube-apiserver v1.33.1", "--service-cluster-ip-range is too large");
        assertError(errorsFor({ workloadClusters: "- name: w\n  serviceCidr: 10.0.0.0/11\n" }), "fleet-bootstrap:workloadClusters[0].serviceCidr:", "/12 or narrower");
        assert.ok(loadStackSpec("local", { serviceCidr: "10.96.0.0/12" }).ok);
        // From v1.34 the allocator without that limit is the only one.
        const v134 = loadStackSpec("local", { serviceCidr: "10.0.0.0/8", kubernetesVersion: "v1.34.1", kindNodeImage: `kindest/node:v1.34.0@sha256:${"a".repeat(64)}` });
        assert.ok(v134.ok, v134.ok ? "" : v134.errors.join("\n"));
    });

    it("a /32 (or any too small) pod or service network, and a pod network without a /24 per node", () => {
        assertError(errorsFor({ serviceCidr: "10.96.0.0/32" }), "fleet-bootstrap:serviceCidr:", "a /28 or wider network", "10th address");
        assertError(errorsFor({ serviceCidr: "10.96.0.0/29" }), "fleet-bootstrap:serviceCidr:", "a /28 or wider network");
        assert.ok(loadStackSpec("local", { serviceCidr: "10.96.0.0/28", workloadClusters: "[]" }).ok);
        assertError(errorsFor({ podCidr: "10.0.0.0/32" }), "fleet-bootstrap:podCidr:", "a /24 or wider network", "Cilium");
        // 3 + 2 machines and one surge each: 7 nodes need 7 /24s, a /21.
        const errors = errorsFor({ podCidr: "10.0.0.0/22", controlPlaneReplicas: 3, workerReplicas: 2, workloadClusters: "[]" });
        assertError(errors, "fleet-bootstrap:podCidr:", '"10.0.0.0/22"', "3 control-plane and 2 worker machines", "a /21 or wider");
        assert.ok(loadStackSpec("local", { podCidr: "10.0.0.0/21", controlPlaneReplicas: 3, workerReplicas: 2, workloadClusters: "[]" }).ok);
        // A workload cluster that inherits the default is named with the key it inherits from.
        assertError(errorsFor({ workloadClusters: "- name: big\n  controlPlane: {replicas: 5}\n  workers: {replicas: 10}\n", podCidr: "10.0.0.0/20" }), "fleet-bootstrap:podCidr (the default of workloadClusters[0] 'big')", "a /19 or wider");
    });

    it("a workload or management cluster named like the kind cluster", () => {
        for (const [overrides, key] of [
            [{ workloadClusters: "- name: local-bootstrap\n" }, "fleet-bootstrap:workloadClusters[0].name"],
            [{ managementClusterName: "local-bootstrap" }, "fleet-bootstrap:managementClusterName"],
            [{ kindClusterName: "kind", workloadClusters: "- name: kind\n" }, "fleet-bootstrap:workloadClusters[0].name"],
        ] as const) {
            assertError(errorsFor(overrides), `${key}: got`, "the temporary kind cluster's", "kind delete cluster --name");
        }
    });

    it("a Helm valuesTemplate that is not a valid Go template", () => {
        assertError(errorsFor({ bootstrapModules: helmModule("replicas: {{ .Cluster.spec.replicas") }), "fleet-bootstrap:bootstrapModules[0].helm.valuesTemplate", "a Go template CAAPH can parse", "line 1: unclosed action");
        assertError(errorsFor({ bootstrapModules: helmModule("{{ if .Cluster }}\na: b\n") }), "helm.valuesTemplate", "line 1: unexpected EOF ({{if}} has no {{end}})");
        assert.ok(loadStackSpec("local", { bootstrapModules: helmModule("name: {{ .Cluster.metadata.name }}\n{{- if .Cluster.metadata.labels }}\nx: 1\n{{- end }}\n") }).ok);
    });

    it("a manifests module whose path is the repository root, a stack file, or a folder holding stack files", () => {
        const module = (p: string) => `- name: policies\n  selector: {tier: general}\n  manifests: {path: ${JSON.stringify(p)}}\n`;
        assertError(errorsFor({ bootstrapModules: module(".") }), "fleet-bootstrap:bootstrapModules[0].manifests.path", 'got "."', "below the repository root");
        assertError(errorsFor({ bootstrapModules: module("./") }), "manifests.path", "below the repository root");
        assertError(errorsFor({ bootstrapModules: module("Pulumi.staging.yaml") }), "manifests.path", "not a Pulumi project or stack file");
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "modules-"));
        try {
            fs.mkdirSync(path.join(root, "mods"));
            fs.writeFileSync(path.join(root, "mods", "a.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
            fs.writeFileSync(path.join(root, "mods", "Pulumi.prod.yaml"), "config:\n  fleet-bootstrap:gitPassword: {secure: AAAA}\n");
            const raw = loadRawConfig("local", { bootstrapModules: module("mods") });
            const result = parseConfig(raw, "local", root);
            assert.ok(!result.ok);
            assertError(result.errors, "manifests.path", '"mods"', "a folder without Pulumi project or stack files");
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });

    it("a stack name that is not a DNS label or longer than 20 characters, when it names the environment", () => {
        const raw = loadRawConfig("local");
        for (const [stack, expected] of [["Dev_1", "DNS-1123 label"], ["a-very-long-environment", "at most 20 characters"]]) {
            const result = parseConfig(raw, stack, repoRoot);
            assert.ok(!result.ok, stack);
            assertError(result.errors, `stack name "${stack}"`, "fleet-bootstrap:environment is not set", expected, "set fleet-bootstrap:environment");
        }
        // With `environment` set, the stack name is free.
        const named = { ...raw, values: { ...raw.values, "fleet-bootstrap:environment": "dev" } };
        assert.ok(parseConfig(named, "Dev_1", repoRoot).ok);
    });

    it("--out (and --config-file) with no value, for npm run plan and npm run render", () => {
        assert.throws(() => planArgs(["local", "--out"]), /^Error: --out needs a value \(got nothing\); usage: npm run plan -- <stack> \[--out DIR\]/);
        assert.throws(() => planArgs(["local", "--out", "--config-file", "x.yaml"]), /--out needs a value \(got "--config-file"\)/);
        assert.throws(() => planArgs(["local", "--config-file="]), /--config-file needs a value \(got ""\)/);
        assert.throws(() => renderArgs(["local", "--out"]), /^Error: --out needs a value \(got nothing\); usage: npm run render -- <stack> \[--out DIR\] \[--check\]/);
        assert.throws(() => renderArgs(["local", "--out", "--check"]), /--out needs a value \(got "--check"\)/);
        assert.deepStrictEqual(planArgs(["local", "--out=/tmp/p", "--config-file", "o.yaml"]), { stack: "local", out: "/tmp/p", configFile: "o.yaml" });
        assert.strictEqual(renderArgs(["local", "--out=/tmp/r"]).outDir, "/tmp/r");
    });
});
