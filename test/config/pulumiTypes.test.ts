// The offline plan checks the stack files' types exactly as the Pulumi CLI does before it runs the
// program (pkg/v3 workspace/config.go validateStackConfigValue + sdk/v3 workspace.ValidateConfigValue,
// v3.274.1; v3.248.0 answers every case here the same): no stricter, no looser.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseConfig } from "../../stacks/config";
import { loadRawConfig, loadStackSpec, repoRoot } from "../../stacks/stackFiles";

/** A scratch repository root: this Pulumi.yaml and a stack file with `config`. */
function scratchStack(config: string, stack = "local"): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "stack-"));
    fs.copyFileSync(path.join(repoRoot, "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
    fs.writeFileSync(path.join(root, `Pulumi.${stack}.yaml`), config);
    return root;
}

function resultFor(config: string, stack = "local") {
    const root = scratchStack(config, stack);
    try {
        return parseConfig(loadRawConfig(stack, {}, root), stack, root);
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
}

const url = "  fleet-bootstrap:fluxRepositoryUrl: https://github.com/example/fleet\n";

describe("stack file types, as the Pulumi CLI checks them", () => {
    it("refuses workloadClusters written as a YAML list, with Pulumi's own message, the file and the fix", () => {
        const result = resultFor(`config:\n${url}  fleet-bootstrap:workloadClusters:\n    - name: dev\n`);
        assert.ok(!result.ok);
        assert.deepStrictEqual(result.errors, [
            "fleet-bootstrap:workloadClusters (Pulumi.local.yaml): Stack 'local' with configuration key 'workloadClusters' must be of type 'string' (got a YAML list): " +
                "write it as text: a YAML list or map inside a block scalar (`key: |`, the YAML indented on the lines below)",
        ]);
    });

    it("accepts what Pulumi accepts: a quoted integer, a YAML number for a string key, the strings true/false for a boolean", () => {
        const result = resultFor(`config:\n${url}  fleet-bootstrap:controlPlaneReplicas: "3"\n  fleet-bootstrap:workerReplicas: +2\n  fleet-bootstrap:awsReuseExistingIam: "false"\n  fleet-bootstrap:workloadClusters: "[]"\n`);
        assert.ok(result.ok, result.ok ? "" : result.errors.join("\n"));
        assert.strictEqual(result.spec.managementCluster.controlPlane.replicas, 3);
        assert.strictEqual(result.spec.managementCluster.workers.replicas, 2);
    });

    it("refuses what Pulumi refuses, each value by the same rule", () => {
        const cases: Array<[string, string]> = [
            ["controlPlaneReplicas: 3.5", "'controlPlaneReplicas' must be of type 'integer' (got 3.5)"],
            ['controlPlaneReplicas: "3.0"', `'controlPlaneReplicas' must be of type 'integer' (got "3.0")`],
            ['controlPlaneReplicas: " 3"', "must be of type 'integer'"], // strconv.Atoi takes no spaces
            ["controlPlaneReplicas: 99999999999999999999", "must be of type 'integer'"], // beyond int64
            ['awsReuseExistingIam: "True"', `'awsReuseExistingIam' must be of type 'boolean' (got "True")`],
            ["fluxComponents: source-controller", "'fluxComponents' must be of type 'array<string>'"],
            ["fluxComponents: [source-controller, 3]", "'fluxComponents' must be of type 'array<string>'"],
            ["managementClusterLabels: {tier: a}", "'managementClusterLabels' must be of type 'string' (got a YAML map)"],
            ["controlPlaneReplicas:", "'controlPlaneReplicas' must be of type 'integer' (got an empty value)"],
            ["awsReuseExistingIam:", "'awsReuseExistingIam' must be of type 'boolean' (got an empty value)"],
        ];
        for (const [line, message] of cases) {
            const result = resultFor(`config:\n${url}  fleet-bootstrap:${line}\n`);
            assert.ok(!result.ok, line);
            assert.ok(result.errors.some((e) => e.includes(message) && e.includes("Pulumi.local.yaml")), `${line}: ${result.errors.join("; ")}`);
        }
        // A YAML `True` is a boolean for Pulumi's YAML reader too; 3.0 is the integer 3; an empty value is "".
        assert.ok(resultFor(`config:\n${url}  fleet-bootstrap:awsReuseExistingIam: True\n`).ok);
        assert.ok(resultFor(`config:\n${url}  fleet-bootstrap:controlPlaneReplicas: 3.0\n`).ok);
        assert.ok(resultFor(`config:\n${url}  fleet-bootstrap:environment:\n`).ok);
    });

    it("reports a key declared without a default that the stack does not set, as Pulumi does", () => {
        const result = resultFor("config:\n  fleet-bootstrap:controlPlaneReplicas: 1\n");
        assert.ok(!result.ok);
        assert.match(result.errors[0], /^fleet-bootstrap:fluxRepositoryUrl: Stack 'local' is missing configuration value 'fluxRepositoryUrl'; set it with `pulumi config set -s local <key> <value>`/);
    });

    it("applies the same rule to --config-file overrides", () => {
        const result = loadStackSpec("local", { workloadClusters: [{ name: "dev" }] });
        assert.ok(!result.ok);
        assert.match(result.errors[0], /workloadClusters \(the --config-file overrides\): Stack 'local' with configuration key 'workloadClusters' must be of type 'string'/);
        assert.ok(loadStackSpec("local", { controlPlaneReplicas: "3" }).ok);
    });

    it("names the file and line of a stack file that is not valid YAML, or not a map", () => {
        const root = scratchStack(`config:\n${url}  fleet-bootstrap:podCidr: [10.0.0.0/16\n`);
        try {
            assert.throws(() => loadRawConfig("local", {}, root), /Pulumi\.local\.yaml:4:1: not valid YAML \(.*\); fix the file: it must be a YAML map with a 'config:' map/);
            fs.writeFileSync(path.join(root, "Pulumi.local.yaml"), "- config\n");
            assert.throws(() => loadRawConfig("local", {}, root), /Pulumi\.local\.yaml: got a YAML list; expected a YAML map with a 'config:' map/);
            fs.writeFileSync(path.join(root, "Pulumi.local.yaml"), "config: [a]\n");
            assert.throws(() => loadRawConfig("local", {}, root), /Pulumi\.local\.yaml: 'config' is not a map/);
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
});
