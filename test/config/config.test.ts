// Bad input is rejected before anything is created, every problem at once, each naming key, value and expectation.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { parseConfig, RawConfig } from "../../stacks/config";
import { plainKeys, secretKeys } from "../../stacks/schema";
import { loadRawConfig, loadStackSpec, repoRoot } from "../../stacks/stackFiles";
import { encodeAgeSecretKey } from "../../stacks/ageKey";

function errorsFor(overrides: Record<string, unknown>, stack = "local"): string[] {
    const result = loadStackSpec(stack, overrides);
    assert.ok(!result.ok, `expected ${JSON.stringify(overrides)} to be rejected`);
    return result.errors;
}

function assertError(errors: string[], ...parts: string[]): void {
    assert.ok(
        errors.some((e) => parts.every((p) => e.includes(p))),
        `no error mentions all of ${JSON.stringify(parts)}; errors were:\n  ${errors.join("\n  ")}`,
    );
}

describe("stack configuration", () => {
    it("declares every key in Pulumi.yaml with type, description and default, and nothing else", () => {
        const project = yaml.load(fs.readFileSync(path.join(repoRoot, "Pulumi.yaml"), "utf8")) as { config: Record<string, Record<string, unknown>> };
        const declared = Object.keys(project.config).sort();
        assert.deepStrictEqual(declared, [...Object.keys(plainKeys), ...Object.keys(secretKeys)].sort());
        for (const [key, declaration] of Object.entries(project.config)) {
            assert.ok(["string", "integer", "boolean", "array"].includes(String(declaration.type)), `${key}: type`);
            assert.ok(String(declaration.description ?? "").length > 10, `${key}: description`);
            // The one key without a default: the fleet repository, which every environment must name.
            if (key !== "fluxRepositoryUrl") assert.ok("default" in declaration, `${key}: default`);
        }
    });

    it("accepts both committed stacks", () => {
        for (const stack of ["local", "staging"]) {
            const result = loadStackSpec(stack);
            assert.ok(result.ok, `stack ${stack}: ${result.ok ? "" : result.errors.join("; ")}`);
        }
    });

    it("builds the local environment from Pulumi.yaml defaults and the stack file", () => {
        const result = loadStackSpec("local");
        assert.ok(result.ok);
        const spec = result.spec;
        assert.strictEqual(spec.environment, "local");
        assert.strictEqual(spec.provider, "docker");
        assert.strictEqual(spec.versions.infrastructureProvider, spec.versions.clusterApi, "CAPD is released with Cluster API");
        assert.strictEqual(spec.temporaryCluster.name, "local-bootstrap");
        assert.strictEqual(spec.managementCluster.fluxPath, "clusters/local/mgmt");
        assert.deepStrictEqual(spec.workloadClusters.map((c) => [c.name, c.fluxPath, c.labels["tier"]]), [["dev", "clusters/local/dev", "dev"]]);
        assert.strictEqual(spec.managementCluster.labels["fleet-bootstrap.io/role"], "management");
        assert.deepStrictEqual([spec.flux.source, spec.flux.checkout], ["local", ""], "local serves its committed render from this machine");
    });

    it("rejects an unknown fleet source, naming what is expected", () => {
        assertError(errorsFor({ fleetSource: "git" }), "fleet-bootstrap:fleetSource", "git", "repository (sync fluxRepositoryUrl) or local");
    });

    it("builds staging on AWS with three control-plane nodes, two workers and workload cluster blue", () => {
        const result = loadStackSpec("staging");
        assert.ok(result.ok);
        assert.strictEqual(result.spec.provider, "aws");
        assert.strictEqual(result.spec.aws?.region, "eu-west-1");
        assert.strictEqual(result.spec.managementCluster.controlPlane.replicas, 3);
        assert.strictEqual(result.spec.managementCluster.workers.replicas, 2);
        assert.deepStrictEqual(result.spec.workloadClusters.map((c) => c.name), ["blue"]);
    });

    it("rejects an unknown provider", () => {
        assertError(errorsFor({ provider: "gcp" }), "fleet-bootstrap:provider", '"gcp"', "docker or aws");
    });

    it("rejects a missing required key", () => {
        const raw = loadRawConfig("local");
        delete raw.values["fleet-bootstrap:fluxRepositoryUrl"];
        const result = parseConfig(raw, "local", repoRoot);
        assert.ok(!result.ok);
        assertError(result.errors, "fleet-bootstrap:fluxRepositoryUrl", "not set", "required");
    });

    it("rejects versions that are not vMAJOR.MINOR.PATCH", () => {
        for (const bad of ["1.14.0", "v1.14", "latest", "v1.14.0-rc.1"]) {
            assertError(errorsFor({ clusterApiVersion: bad }), "fleet-bootstrap:clusterApiVersion", JSON.stringify(bad), "vMAJOR.MINOR.PATCH");
        }
    });

    it("rejects an even or zero control-plane count, for the management and workload clusters", () => {
        assertError(errorsFor({ controlPlaneReplicas: 2 }), "fleet-bootstrap:controlPlaneReplicas", "2", "odd number");
        assertError(errorsFor({ controlPlaneReplicas: 0 }), "fleet-bootstrap:controlPlaneReplicas", "0", "odd number");
        const errors = errorsFor({ workloadClusters: "- name: a\n  controlPlane: {replicas: 4}\n" });
        assertError(errors, "fleet-bootstrap:workloadClusters[0].controlPlane.replicas", "4", "odd number");
    });

    it("rejects invalid and overlapping CIDRs", () => {
        assertError(errorsFor({ podCidr: "10.0.0.0/33" }), "fleet-bootstrap:podCidr", "10.0.0.0/33", "CIDR");
        assertError(errorsFor({ podCidr: "10.0.0.1/16" }), "fleet-bootstrap:podCidr", "10.0.0.1/16", "CIDR");
        assertError(errorsFor({ podCidr: "10.96.0.0/12", serviceCidr: "10.100.0.0/16" }), "podCidr", "10.96.0.0/12", "10.100.0.0/16", "non-overlapping");
    });

    it("rejects names that are not DNS-1123 labels or too long for what they become part of", () => {
        assertError(errorsFor({ managementClusterName: "Mgmt_1" }), "fleet-bootstrap:managementClusterName", '"Mgmt_1"', "DNS-1123");
        assertError(errorsFor({ managementClusterName: "m".repeat(41) }), "fleet-bootstrap:managementClusterName", "at most 40");
        assertError(errorsFor({ kindClusterName: "k".repeat(50) }), "fleet-bootstrap:kindClusterName", "at most 49");
        assertError(errorsFor({ workloadClusters: "- name: -bad\n" }), "fleet-bootstrap:workloadClusters[0].name", '"-bad"', "DNS-1123");
    });

    it("rejects duplicate cluster names and a workload cluster named like the management cluster", () => {
        assertError(errorsFor({ workloadClusters: "- name: mgmt\n" }), "fleet-bootstrap:workloadClusters[0].name", '"mgmt"', "fleet-bootstrap:managementClusterName has it");
        assertError(errorsFor({ workloadClusters: "- name: a\n- name: a\n" }), "fleet-bootstrap:workloadClusters[1].name", '"a"', "workloadClusters[0].name has it");
    });

    it("rejects a bootstrap module with an empty selector", () => {
        const errors = errorsFor({ bootstrapModules: "- name: ingress\n  selector: {}\n  helm: {repoURL: https://charts.example.com, chartName: x, version: 1.0.0}\n" });
        assertError(errors, "fleet-bootstrap:bootstrapModules[0].selector", "{}", "non-empty label selector");
    });

    it("rejects a Flux path escaping the repository", () => {
        assertError(errorsFor({ fluxClustersPath: "../other-repo" }), "fleet-bootstrap:fluxClustersPath", "../other-repo", "inside the repository");
        assertError(errorsFor({ fluxClustersPath: "fleet/../../etc" }), "fleet-bootstrap:fluxClustersPath", "inside the repository");
        assertError(errorsFor({ fluxClustersPath: "/etc" }), "fleet-bootstrap:fluxClustersPath", "/etc", "inside the repository");
    });

    it("rejects a secret key given in plain text, without printing it", () => {
        const raw = loadRawConfig("local");
        const plain: RawConfig = { ...raw, values: { ...raw.values, "fleet-bootstrap:gitPassword": "hunter2-plain" } };
        const result = parseConfig(plain, "local", repoRoot);
        assert.ok(!result.ok);
        assertError(result.errors, "fleet-bootstrap:gitPassword", "plain-text", "pulumi config set --secret gitPassword");
        assert.ok(!result.errors.join("\n").includes("hunter2-plain"), "the plain secret must not be echoed");
    });

    it("never prints a malformed secret value", () => {
        const errors = errorsFor({ sopsAgeKey: "AGE-SECRET-KEY-not-really" });
        assertError(errors, "fleet-bootstrap:sopsAgeKey", "[secret]", "age secret key");
        assert.ok(!errors.join("\n").includes("not-really"));
    });

    it("refuses an age key whose checksum is wrong (Flux would fail to decrypt with it, long after up), without printing it", () => {
        const valid = encodeAgeSecretKey(new Uint8Array(32).fill(7));
        const accepted = loadStackSpec("local", { sopsAgeKey: valid });
        assert.ok(accepted.ok, `a valid age key was refused: ${accepted.ok ? "" : accepted.errors.join("; ")}`);
        // One character changed: the shape is right, the Bech32 checksum is not.
        const mistyped = `${valid.slice(0, 20)}${valid[20] === "Q" ? "P" : "Q"}${valid.slice(21)}`;
        const errors = errorsFor({ sopsAgeKey: mistyped });
        assertError(errors, "fleet-bootstrap:sopsAgeKey", "[secret]", "checksum");
        assert.ok(!errors.join("\n").includes(mistyped));
    });

    it("reports every problem at once, not the first only", () => {
        const errors = errorsFor({ provider: "gcp", clusterApiVersion: "1.0", controlPlaneReplicas: 2, podCidr: "nope", managementClusterName: "UPPER" });
        for (const key of ["provider", "clusterApiVersion", "controlPlaneReplicas", "podCidr", "managementClusterName"]) assertError(errors, `fleet-bootstrap:${key}`);
    });

    it("rejects unknown keys in the project namespace (typos)", () => {
        assertError(errorsFor({ controlPlaneReplica: 3 }), "fleet-bootstrap:controlPlaneReplica", "unknown key");
    });

    it("requires a machine type, a region and CAPA credentials for aws", () => {
        const errors = errorsFor({ controlPlaneMachineType: "", awsCredentialsFromEnvironment: false, "aws:region": "" }, "staging");
        assertError(errors, "fleet-bootstrap:controlPlaneMachineType", "machine type");
        assertError(errors, "aws:region", "AWS region");
        assertError(errors, "awsAccessKeyId", "Pulumi secrets");
    });
});
