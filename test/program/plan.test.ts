// The real program (index.ts) under Pulumi's mocks, through the offline planner: the graph, its options,
// preview with unknown kubeconfigs, the resource count, and that no secret leaks anywhere.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Plan, planStack, PlannedResource } from "../../tools/planner";
import { componentOrder, writePlan } from "../../tools/plan";
import { renderDigest, renderFleetRepository } from "../../render/fleetRepo";
import { syncFleetDirectory } from "../../tools/render";
import { readCommittedRender } from "../../stacks/fleetCheckout";
import { validateObject } from "../support/validate";
import { runSync } from "../support/bounds";

const fakeSecrets = {
    sopsAgeKey: "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ8H00W3",
    gitUsername: "fleet-reader",
    gitPassword: "FAKE-GIT-TOKEN-7f3a9c",
    awsAccessKeyId: "AKIAFAKEFAKEFAKE1234",
    awsSecretAccessKey: "FAKE-AWS-SECRET-ACCESS-KEY-0123456789",
    awsSessionToken: "FAKE-AWS-SESSION-TOKEN-abcdef",
    awsCredentialsFromEnvironment: false,
};
const secretValues = ["QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ", "FAKE-GIT-TOKEN-7f3a9c", "FAKE-AWS-SECRET-ACCESS-KEY-0123456789", "FAKE-AWS-SESSION-TOKEN-abcdef"];

async function plan(stack: string, overrides: Record<string, unknown> = {}, extra: { preview?: boolean; previousOutputs?: Record<string, unknown> } = {}): Promise<Plan> {
    const result = await planStack({ stack, overrides, ...extra });
    assert.ok(result.ok, result.ok ? "" : result.errors.join("\n"));
    return result.plan;
}

const byType = (p: Plan, type: string) => p.resources.filter((r) => r.type === type);
const one = (p: Plan, type: string, name?: string): PlannedResource => {
    const found = byType(p, type).filter((r) => name === undefined || r.name === name);
    assert.strictEqual(found.length, 1, `expected one ${type}${name ? ` named ${name}` : ""}, found ${found.map((r) => r.name).join(", ")}`);
    return found[0];
};
/**
 * Whether `from` waits for `on` (a resource or a whole component): through explicit and data dependencies,
 * its ancestors' dependencies, and the descendants of every component depended upon, as the engine orders them.
 */
function dependsTransitively(p: Plan, from: PlannedResource, on: PlannedResource): boolean {
    const byUrn = new Map(p.resources.map((r) => [r.urn, r]));
    const isWithin = (urn: string, ancestor: string) => {
        for (let r = byUrn.get(urn); r; r = r.parent ? byUrn.get(r.parent) : undefined) if (r.urn === ancestor) return true;
        return false;
    };
    const root = p.resources.find((r) => r.type === "fleet:index:Environment")!.urn;
    const dependenciesOf = (urn: string): string[] => {
        const direct: string[] = [];
        for (let r = byUrn.get(urn); r && r.urn !== root; r = r.parent ? byUrn.get(r.parent) : undefined) direct.push(...r.dependsOn);
        return direct.flatMap((d) => [d, ...p.resources.filter((c) => isWithin(c.urn, d)).map((c) => c.urn)]);
    };
    const seen = new Set<string>();
    const todo = [from.urn, ...p.resources.filter((c) => isWithin(c.urn, from.urn)).map((c) => c.urn)];
    while (todo.length > 0) {
        const urn = todo.pop()!;
        if (seen.has(urn)) continue;
        seen.add(urn);
        for (const d of dependenciesOf(urn)) {
            if (isWithin(d, on.urn)) return true;
            todo.push(d);
        }
    }
    return false;
}

describe("the program under mocks (offline plan)", () => {
    let local: Plan;
    let staging: Plan;
    before(async () => {
        local = await plan("local");
        staging = await plan("staging", fakeSecrets);
    });

    it("registers the whole graph with every component, for both stacks", () => {
        for (const p of [local, staging]) {
            for (const type of ["TemporaryCluster", "CapiProviders", "ManagementCluster", "Pivot", "FluxInstall", "BootstrapModule", "Preflight"]) {
                assert.ok(byType(p, `fleet:index:${type}`).length > 0, `${p.stack}: no ${type}`);
            }
            assert.strictEqual(byType(p, "fleet:index:CapiProviders").length, 2, "providers on the temporary and on the permanent cluster");
        }
        assert.strictEqual(byType(local, "fleet:index:AwsIam").length, 0, "no AWS on the local stack");
        assert.strictEqual(byType(staging, "fleet:index:AwsIam").length, 1);
    });

    it("orders the steps: preflight, kind, providers, management cluster, providers on it, move, Flux sync", () => {
        const order = componentOrder(local).map((c) => c.name);
        const before = (a: string, b: string) => assert.ok(order.indexOf(a) < order.indexOf(b), `${a} must come before ${b}: ${order.join(" → ")}`);
        before("preflight", "temporary");
        before("temporary", "temporary-providers");
        before("temporary-providers", "management");
        before("management", "permanent-providers");
        before("permanent-providers", "pivot");
        before("pivot", "flux");
        const sync = one(local, "kubernetes:fluxcd.controlplane.io/v1:FluxInstancePatch");
        assert.ok(dependsTransitively(local, sync, one(local, "fleet:index:Pivot")), "the Flux sync starts only after the pivot");
        assert.ok("sync" in (sync.inputs.spec as object), "the sync comes in the patch");
        const instance = one(local, "kubernetes:fluxcd.controlplane.io/v1:FluxInstance");
        assert.ok(!("sync" in (instance.inputs.spec as object)), "the instance alone never syncs");
    });

    it("keeps independent work off the critical path", () => {
        const iam = one(staging, "fleet:index:AwsIam");
        const kind = one(staging, "fleet:index:TemporaryCluster");
        assert.ok(!dependsTransitively(staging, kind, iam) && !dependsTransitively(staging, iam, kind), "IAM and kind are independent");
        assert.ok(dependsTransitively(staging, one(staging, "fleet:index:CapiProviders", "temporary-providers"), iam), "CAPA needs its IAM");
        for (const type of ["kubernetes:helm.sh/v3:Release", "kubernetes:fluxcd.controlplane.io/v1:FluxInstance"]) {
            assert.ok(!dependsTransitively(local, one(local, type), one(local, "fleet:index:Pivot")), `${type}: Flux installs beside the pivot`);
        }
        for (const module of byType(local, "fleet:index:BootstrapModule")) {
            assert.ok(!dependsTransitively(local, module, one(local, "fleet:index:Pivot")), `module ${module.name} does not wait for the pivot`);
        }
    });

    it("sets the destroy semantics: kind deleted, its contents deletedWith it, everything permanent retained", () => {
        const kind = one(local, "command:local:Command", "temporary-kind");
        assert.ok(!kind.options.retainOnDelete, "the temporary cluster is deleted on destroy");
        assert.ok(String(kind.inputs.delete).includes("temporary-cluster-delete") || String(kind.inputs.delete).length > 0, "kind has a delete step");
        assert.strictEqual(one(local, "fleet:index:CapiProviders", "temporary-providers").options.deletedWith, kind.urn);
        for (const name of ["management", "permanent-providers", "pivot", "flux"]) {
            const component = local.resources.find((r) => r.name === name && r.type.startsWith("fleet:index:"))!;
            assert.ok(component.options.retainOnDelete, `${name} is released, not deleted`);
        }
        for (const module of byType(local, "fleet:index:BootstrapModule")) assert.ok(module.options.retainOnDelete, module.name);
        assert.ok(one(local, "kubernetes:fluxcd.controlplane.io/v1:FluxInstance").options.retainOnDelete, "the FluxInstance is never deleted by Pulumi");
        assert.ok(one(local, "kubernetes:fluxcd.controlplane.io/v1:FluxInstancePatch").options.retainOnDelete, "nor is its sync");
        assert.ok(one(staging, "fleet:index:AwsIam").options.retainOnDelete, "IAM stays for the permanent cluster's CAPA");
    });

    it("recovers from a vanished kind cluster with one documented command: the steps name its URN, and providers reinstall on a new one", () => {
        const kind = one(local, "command:local:Command", "temporary-kind");
        for (const name of ["temporary-providers-clusterctl-init", "management-apply-and-wait", "pivot-clusterctl-move"]) {
            const env = one(local, "command:local:Command", name).inputs.environment as Record<string, string>;
            assert.strictEqual(env.FLEET_TEMPORARY_CLUSTER_URN, kind.urn, name);
        }
        // `pulumi up --replace <kind>` gives the kind resource a new id: clusterctl init runs again on the new cluster.
        assert.deepStrictEqual(one(local, "command:local:Command", "temporary-providers-clusterctl-init").inputs.triggers, ["temporary-kind-id"]);
    });

    it("passes the age recipient to the pivot, so the move backup is encrypted", async () => {
        const recipient = `age1${"q".repeat(58)}`;
        const planned = await plan("local", { ageRecipient: recipient });
        const env = one(planned, "command:local:Command", "pivot-clusterctl-move").inputs.environment as Record<string, string>;
        assert.strictEqual(env.FLEET_AGE_RECIPIENT, recipient);
        assert.ok(!("FLEET_AGE_RECIPIENT" in (one(local, "command:local:Command", "pivot-clusterctl-move").inputs.environment as object)), "none by default");
    });

    it("binds nothing to the temporary cluster through @pulumi/kubernetes", () => {
        const providers = byType(local, "pulumi:providers:kubernetes");
        assert.strictEqual(providers.length, 1, "one Kubernetes provider: the permanent cluster's");
        assert.strictEqual(providers[0].inputs.clusterIdentifier, "local-mgmt");
        const management = one(local, "command:local:Command", "management-apply-and-wait");
        assert.ok(providers[0].dependsOn.includes(management.urn), "its kubeconfig is the management cluster's");
    });

    it("previews with unknown kubeconfigs, without running or needing any step", async () => {
        const preview = await plan("local", {}, { preview: true });
        assert.strictEqual(preview.resources.length, local.resources.length, "preview registers the same graph");
        assert.strictEqual(one(preview, "pulumi:providers:kubernetes").inputs.clusterIdentifier, "local-mgmt", "a stable identity keeps preview from planning replacements");
    });

    it("does not grow with the number of workload clusters", async () => {
        const clusters = Array.from({ length: 50 }, (_, i) => `- name: w${i}\n`).join("");
        const big = await plan("local", { workloadClusters: clusters });
        assert.strictEqual(big.resources.length, local.resources.length);
    });

    it("warns at preview about a module whose selector matches no declared cluster, without failing", async () => {
        const module = "- name: ingress\n  selector: {tier: none}\n  helm: {repoURL: https://charts.example.com, chartName: ingress, version: 1.0.0}\n";
        const planned = await plan("local", { bootstrapModules: module }, { preview: true });
        assert.deepStrictEqual(planned.warnings.filter((w) => w.includes("matches none")), [
            `bootstrap module 'ingress': its selector {"tier":"none"} matches none of the clusters declared in this stack (clusters added through Git may still match)`,
        ]);
        assert.ok(!local.warnings.some((w) => w.includes("matches none")), "the default modules select declared clusters");
    });

    it("reports at preview when the committed render and the configuration disagree, naming the command that fixes it (also in plan.md)", async () => {
        assert.deepStrictEqual(local.warnings.filter((w) => w.startsWith("fleet repository")), [], "clusters/local/ is committed fresh");
        const planned = await plan("local", { workloadClusters: "- name: qa\n" }, { preview: true });
        const [warning, ...more] = planned.warnings.filter((w) => w.startsWith("fleet repository"));
        assert.deepStrictEqual(more, []);
        assert.match(warning, /clusters\/local\/ in this repository is not what the stack configuration renders \(clusters\/local\/mgmt\/kustomization\.yaml, clusters\/local\/mgmt\/cluster-qa\.yaml, /);
        assert.ok(warning.includes("run `npm run render -- local` and commit"), warning);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-drift-"));
        writePlan(planned, dir);
        assert.ok(fs.readFileSync(path.join(dir, "plan.md"), "utf8").includes(`- ${warning}`));
        const [stagingWarning] = staging.warnings.filter((w) => w.startsWith("fleet repository"));
        assert.match(stagingWarning, /no committed render of staging in this repository .*`npm run render -- staging --out <checkout of https:\/\/github\.com\/fleet-bootstrap\/fleet-staging\.git>` with fleet-bootstrap:fleetCheckout set to that checkout/);
    });

    it("compares staging with its fleet repository's checkout (fleetCheckout), naming `npm run render -- staging --out <checkout>`", async () => {
        const checkout = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-staging-"));
        syncFleetDirectory(checkout, staging.spec, renderFleetRepository(staging.spec));
        const inLine = await plan("staging", { ...fakeSecrets, fleetCheckout: checkout }, { preview: true });
        assert.deepStrictEqual(inLine.warnings.filter((w) => w.startsWith("fleet repository")), []);
        const stale = await plan("staging", { ...fakeSecrets, fleetCheckout: checkout, workerReplicas: 3 }, { preview: true });
        const [warning] = stale.warnings.filter((w) => w.startsWith("fleet repository"));
        assert.ok(warning.includes(`clusters/staging/ in the checkout ${checkout} is not what the stack configuration renders (clusters/staging/mgmt/cluster-blue.yaml, clusters/staging/mgmt/cluster-mgmt.yaml)`), warning);
        assert.ok(warning.includes(`run \`npm run render -- staging --out ${checkout}\` and commit`), warning);
    });

    it("hands the objects Git holds to Flux: created with kustomize-controller's field manager, never updated after, kept on destroy", () => {
        const manager = (r: PlannedResource) => (r.inputs.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.["pulumi.com/patchFieldManager"];
        const handedOff = [...local.resources, ...staging.resources].filter((r) => r.type.startsWith("kubernetes:") && manager(r) === "kustomize-controller");
        const kinds = new Set(handedOff.map((r) => r.type.split(":").pop()));
        for (const kind of ["HelmChartProxy", "ClusterResourceSet", "ConfigMap", "FluxInstance", "FluxInstancePatch", "Namespace"]) assert.ok(kinds.has(kind), `${kind} handed off`);
        for (const r of handedOff) {
            const content = Object.keys(r.inputs).filter((key) => key !== "apiVersion" && key !== "kind");
            assert.ok(content.includes("metadata") && content.every((key) => r.options.ignoreChanges?.includes(key)), `${r.name}: ignores ${r.options.ignoreChanges} of ${content}`);
            assert.ok(r.options.retainOnDelete, `${r.name} is kept on destroy`);
        }
        const operator = one(local, "kubernetes:helm.sh/v3:Release");
        assert.deepStrictEqual(operator.options.ignoreChanges, ["chart", "version", "values", "repositoryOpts"], "helm-controller upgrades the operator from Git");
        for (const secret of byType(staging, "kubernetes:core/v1:Secret")) {
            assert.strictEqual(secret.options.ignoreChanges, undefined, `${secret.name}: Secrets stay with the program (out of Git)`);
            assert.strictEqual(manager(secret), "fleet-bootstrap", `${secret.name}: applied under the program's one stable field manager`);
            assert.ok(secret.options.retainOnDelete, `${secret.name} is kept on destroy`);
        }
    });

    it("serves local's committed render from this machine (fleetSource: local) and syncs only once it is served", () => {
        const source = one(local, "fleet:index:LocalFleetSource");
        const step = one(local, "command:local:Command", "fleet-source-registry");
        const env = step.inputs.environment as Record<string, string>;
        assert.strictEqual(env.FLEET_STEP, "fleet-source");
        assert.strictEqual(env.FLEET_ARTIFACT, "oci://fleet-local-source:5000/fleet-local:latest");
        assert.strictEqual(env.FLEET_ARTIFACT_PATH, "clusters/local");
        assert.strictEqual(env.FLEET_RENDER_DIR, path.resolve(__dirname, "../../clusters/local"));
        assert.strictEqual(env.FLEET_SOURCE_REVISION, renderDigest(readCommittedRender(path.resolve(__dirname, "../.."), local.spec).all));
        assert.ok(String(env.FLEET_DELETE_STEP_SCRIPT).includes("Step: fleet-source-delete"), "destroy removes the registry container");
        assert.ok(!source.options.retainOnDelete);
        assert.ok(dependsTransitively(local, one(local, "kubernetes:fluxcd.controlplane.io/v1:FluxInstancePatch"), source), "the sync waits for the source");
        assert.ok(dependsTransitively(local, source, one(local, "fleet:index:TemporaryCluster")), "the kind network exists first");
        assert.strictEqual(byType(staging, "fleet:index:LocalFleetSource").length, 0, "staging syncs its fleet repository");
    });

    it("the local fleet source refuses arguments its step cannot use, naming each", () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { LocalFleetSource } = require("../../components/localFleetSource") as typeof import("../../components/localFleetSource");
        const args = one(local, "command:local:Command", "fleet-source-registry").inputs.environment as Record<string, string>;
        const valid = {
            environment: "local", containerName: args.FLEET_SOURCE_CONTAINER, network: "kind", registryImage: args.FLEET_SOURCE_IMAGE, pushImage: args.FLEET_PUSH_IMAGE,
            renderDirectory: args.FLEET_RENDER_DIR, artifactPath: args.FLEET_ARTIFACT_PATH, artifact: args.FLEET_ARTIFACT, revision: args.FLEET_SOURCE_REVISION,
        };
        assert.throws(() => new LocalFleetSource("bad-dir", { ...valid, renderDirectory: "clusters/local" }), /renderDirectory "clusters\/local": expected an absolute path/);
        assert.throws(() => new LocalFleetSource("bad-name", { ...valid, containerName: "Fleet_Source" }), /containerName "Fleet_Source": expected a DNS-1123 label/);
        assert.throws(() => new LocalFleetSource("bad-artifact", { ...valid, artifact: "oci://elsewhere:5000/fleet:latest" }), /artifact "oci:\/\/elsewhere:5000\/fleet:latest": expected oci:\/\/fleet-local-source:<port>/);
    });

    it("refuses a change of the Flux sync name at preview", async () => {
        await assert.rejects(planStack({ stack: "local", preview: true, previousOutputs: { fluxSyncName: "old-name" } }), (err: unknown) => {
            assert.match((err as Error).message, /fluxSyncName changed from "old-name" to "flux-system"/);
            // Reported as its message on the FluxInstall, not as a stack trace and a dump of the error.
            const cause = (err as Error).cause;
            assert.ok(pulumi.ResourceError.isInstance(cause) && cause.hideStack, "the refusal is a ResourceError with hideStack");
            assert.ok(cause.resource instanceof pulumi.ComponentResource, "the refusal names its resource");
            return true;
        });
        const deliberate = await planStack({ stack: "local", preview: true, previousOutputs: { fluxSyncName: "old-name" }, overrides: { fluxSyncRenameFrom: "old-name" } });
        assert.ok(deliberate.ok, "a rename named explicitly is accepted");
    });

    it("reads its own previous outputs at preview only: the update that follows the preview depends on no self-reference", async () => {
        const update = await planStack({ stack: "local", preview: false, previousOutputs: { fluxSyncName: "old-name" } });
        assert.ok(update.ok, "the update reads no previous output (the preview before it checked the sync name)");
    });

    it("leaks no secret into plan.json, manifests or stack outputs", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-secrets-"));
        for (const stack of ["local", "staging"]) {
            writePlan(await plan(stack, fakeSecrets), path.join(dir, stack));
        }
        const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => path.join(f.parentPath, f.name));
        assert.ok(files.length > 10);
        for (const file of files) {
            const text = fs.readFileSync(file, "utf8");
            for (const secret of secretValues) assert.ok(!text.includes(secret), `${file} contains a secret`);
        }
        const stagingPlan = JSON.parse(fs.readFileSync(path.join(dir, "staging", "plan.json"), "utf8"));
        assert.strictEqual(stagingPlan.outputs.managementKubeconfig, "[secret]");
        assert.ok(JSON.stringify(stagingPlan).includes("[secret]"), "secrets are shown as [secret]");
    });

    it("gives Flux the credential kind its repository needs: an SSH key for ssh://, a token for https://", async () => {
        const ssh = await plan("local", {
            fluxRepositoryUrl: "ssh://git@github.com/acme/fleet.git",
            gitSshIdentity: "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE-SSH-KEY\n-----END OPENSSH PRIVATE KEY-----",
            gitKnownHosts: "github.com ssh-ed25519 AAAAFAKE",
        });
        const secret = (p: Plan) => p.manifests.get("permanent")!.find((o) => o.kind === "Secret" && o.metadata.name === "flux-system")!;
        assert.deepStrictEqual(Object.keys(secret(ssh).stringData as object).sort(), ["identity", "known_hosts"]);
        const https = await plan("local", { gitUsername: "reader", gitPassword: "FAKE-GIT-TOKEN-7f3a9c" });
        assert.deepStrictEqual(Object.keys(secret(https).stringData as object).sort(), ["password", "username"]);
        assert.ok(!JSON.stringify([...ssh.manifests.values()]).includes("FAKE-SSH-KEY"));
    });

    it("delivers the real credentials where they are needed: Flux's secrets and the downstream resource set", async () => {
        const result = await planStack({ stack: "staging", overrides: fakeSecrets, revealSecrets: true });
        assert.ok(result.ok);
        const secret = (name: string) => result.plan.resources.find((r) => r.type === "kubernetes:core/v1:Secret" && r.name.endsWith(name))!;
        assert.strictEqual((secret("flux-system").inputs.stringData as Record<string, string>).password, fakeSecrets.gitPassword);
        assert.strictEqual((secret("sops-age").inputs.stringData as Record<string, string>)["age.agekey"], fakeSecrets.sopsAgeKey);
        const resourceSet = secret("flux-secrets").inputs;
        assert.strictEqual(resourceSet.type, "addons.cluster.x-k8s.io/resource-set");
        const delivered = Object.values(resourceSet.data as Record<string, string>).map((b64) => Buffer.from(b64, "base64").toString("utf8")).join("\n");
        assert.ok(delivered.includes(fakeSecrets.sopsAgeKey) && delivered.includes(fakeSecrets.gitPassword), "the resource set carries both credentials downstream");
        const capi = result.plan.resources.find((r) => r.name === "temporary-providers-clusterctl-init")!;
        const encoded = (capi.inputs.environment as Record<string, string>).AWS_B64ENCODED_CREDENTIALS;
        assert.ok(Buffer.from(encoded, "base64").toString("utf8").includes(fakeSecrets.awsSecretAccessKey), "CAPA gets the bootstrap credentials");
    });

    it("renders manifests that validate against the upstream CRDs and the Kubernetes schema", async () => {
        for (const p of [local, await plan("staging", fakeSecrets)]) {
            for (const [target, objects] of p.manifests) {
                for (const object of objects.filter((o) => !(o.metadata.annotations ?? {})["fleet-bootstrap.io/content"])) {
                    assert.deepStrictEqual(validateObject(object), [], `${p.stack} ${target}: ${object.kind} ${object.metadata.name}`);
                }
            }
            assert.ok(p.manifests.get("temporary")!.some((o) => o.kind === "Cluster"), "the management cluster is applied to the temporary cluster");
            assert.ok(p.manifests.get("permanent")!.some((o) => o.kind === "FluxInstance"));
        }
    });
});

describe("npm run plan", () => {
    it("writes nothing and exits non-zero on invalid config, listing every problem", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-bad-"));
        const configFile = path.join(dir, "bad.yaml");
        fs.writeFileSync(configFile, "controlPlaneReplicas: 2\nprovider: gcp\n");
        const out = path.join(dir, "out");
        const run = runSync("npm run plan", process.execPath, ["--import", "tsx", "tools/plan.ts", "local", "--out", out, "--config-file", configFile]);
        assert.notStrictEqual(run.status, 0);
        assert.match(run.stderr, /fleet-bootstrap:controlPlaneReplicas: got 2/);
        assert.match(run.stderr, /fleet-bootstrap:provider: got "gcp"/);
        assert.ok(!fs.existsSync(out), "nothing written");
    });

    it("writes plan.json, plan.md and manifests, with a fake secret from --config-file nowhere", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-cli-"));
        const configFile = path.join(dir, "secrets.yaml");
        fs.writeFileSync(configFile, `gitUsername: reader\ngitPassword: ${fakeSecrets.gitPassword}\n`);
        const out = path.join(dir, "out");
        const run = runSync("npm run plan", process.execPath, ["--import", "tsx", "tools/plan.ts", "local", "--out", out, "--config-file", configFile]);
        assert.strictEqual(run.status, 0, run.stderr);
        const planJson = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8"));
        assert.strictEqual(planJson.stack, "local");
        for (const r of planJson.resources) for (const key of ["urn", "type", "name", "dependsOn", "options", "inputs"]) assert.ok(key in r, `${r.name} lacks ${key}`);
        const md = fs.readFileSync(path.join(out, "plan.md"), "utf8");
        assert.match(md, /```mermaid/);
        for (const target of ["temporary", "permanent"]) assert.ok(fs.readdirSync(path.join(out, "manifests", target)).length > 0, target);
        const everything = fs.readdirSync(out, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => fs.readFileSync(path.join(f.parentPath, f.name), "utf8")).join("\n");
        assert.ok(!everything.includes(fakeSecrets.gitPassword), "the fake secret appears nowhere");
        assert.ok(everything.includes("[secret]"));
    });
});
