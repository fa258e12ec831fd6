// The real Pulumi engine (CLI, Node.js language host, command and kubernetes providers, built by
// scripts/engine-tools.sh) running this program's `local` stack on a file backend, through the real
// world of test/real: the real clusterctl and kubectl against two real kube-apiservers standing in
// for the kind cluster and the permanent management cluster, the harness playing kind, docker and the
// controllers. What the mocks cannot show: the steps really run in graph order, every permanent object
// is server-side applied to an API server with the upstream schemas, and the engine's own handling of
// secrets, retainOnDelete, deletedWith and the self-StackReference.
import * as assert from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EnvironmentSpec } from "../../stacks/spec";
import { RealWorld } from "../real/world";
import { loadLocalSpec, newAgeKey, startLocalStack } from "./localStack";
import { CommandResult, engineToolsBinDir, PulumiWorkspace } from "./workspace";

interface PreviewStep {
    op: string;
    urn: string;
    newState?: { type: string };
}

const typeOf = (step: PreviewStep) => step.newState?.type ?? step.urn.split("::")[2].split("$").pop();

function previewSteps(result: CommandResult): PreviewStep[] {
    return (JSON.parse(result.stdout) as { steps: PreviewStep[] }).steps;
}

/** A secret that must never appear in plain text, unique to this run. */
const SOPS_AGE_KEY = newAgeKey();
/** Every age key the stack was given, none of which may appear in plain text. */
const ageKeys = [SOPS_AGE_KEY];

/** The resource a bootstrap module becomes on the management cluster: a HelmChartProxy or a ClusterResourceSet. */
function moduleResource(module: EnvironmentSpec["bootstrapModules"][number]): string {
    return module.content.kind === "helm" ? "helmchartproxies.addons.cluster.x-k8s.io" : "clusterresourcesets.addons.cluster.x-k8s.io";
}

describe("the real engine on the local stack, from an empty stack to destroy", function () {
    const spec = loadLocalSpec();
    const ns = spec.clusterNamespace;
    const mgmt = spec.managementCluster.name;
    let workDir: string;
    let world: RealWorld;
    let pulumi: PulumiWorkspace;

    const permanentGet = (args: string[]) => JSON.parse(world.permanent.kubectl(["get", ...args, "-o", "json"]));
    const exists = (server: "kind" | "permanent", args: string[]) => {
        try {
            world[server].kubectl(["get", ...args, "-o", "name"]);
            return true;
        } catch {
            return false;
        }
    };

    before(async function () {
        const binDir = engineToolsBinDir();
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-engine-"));
        ({ world, pulumi } = await startLocalStack({ workDir, binDir, sopsAgeKey: SOPS_AGE_KEY }));
        const cli = pulumi.cli;
        console.log(`      pulumi ${cli.version} ${cli.fromPath ? `already on PATH (${cli.dir}), used instead of the built one` : `built by scripts/engine-tools.sh`}; plugins from ${binDir}`);
    });

    after(async function () {
        await world?.stop();
        if (workDir && process.env.FLEET_KEEP_TEST_WORLDS !== "1") fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("previews the empty stack: every component, only creates, no tool called, no object written", async function () {
        const result = await pulumi.ok(["preview", "--json"]);
        const steps = previewSteps(result);
        const types = new Set(steps.map(typeOf));
        for (const component of ["Environment", "Preflight", "TemporaryCluster", "CapiProviders", "ManagementCluster", "Pivot", "FluxInstall", "BootstrapModule"]) {
            assert.ok(types.has(`fleet:index:${component}`), `preview shows no fleet:index:${component}; it shows ${[...types].join(", ")}`);
        }
        // The self-StackReference is read (this stack's own previous outputs); everything else is created.
        const notCreate = steps.filter((s) => s.op !== "create" && !(s.op === "read" && typeOf(s) === "pulumi:pulumi:StackReference"));
        assert.deepStrictEqual(notCreate.map((s) => `${s.op} ${s.urn}`), [], "an empty stack plans only creates");
        assert.deepStrictEqual(world.tools.calls, [], "preview called the kind or docker CLI");
        assert.ok(!exists("permanent", ["namespace", "flux-system"]), "preview wrote to the permanent cluster");
        console.log(`      preview: ${steps.length} resources in ${result.seconds.toFixed(1)} s`);
    });

    it("up: every step runs, every permanent object is server-side applied, an existing object is adopted", async function () {
        // An interrupted earlier run may have left objects behind: provider 4.25 applies, which adopts them.
        world.permanent.kubectl(["create", "namespace", ns]);
        const result = await pulumi.ok(["up", "--yes", "--skip-preview"], { timeoutSeconds: 1200 });
        console.log(`      up: ${result.seconds.toFixed(0)} s`);
        const cluster = permanentGet(["clusters.cluster.x-k8s.io", "-n", ns, mgmt]);
        assert.notStrictEqual(cluster.spec.paused, true, "the moved Cluster is left paused");
        assert.ok(!exists("kind", ["clusters.cluster.x-k8s.io", "-n", ns, mgmt]), "the Cluster is still on kind after the pivot");
        const instance = permanentGet(["fluxinstances.fluxcd.controlplane.io", "-n", "flux-system", "flux", "--show-managed-fields"]);
        assert.strictEqual(instance.spec.sync.name, spec.flux.syncName);
        // One owner at a time: the program applied it as the manager Flux applies with, so Flux takes it over from Git.
        const managers = (instance.metadata.managedFields as { manager: string; operation: string; fieldsV1: { "f:spec"?: Record<string, unknown> } }[]).filter((f) => f.operation === "Apply");
        assert.deepStrictEqual(managers.map((f) => f.manager), ["kustomize-controller"], "the FluxInstance has another applier than Flux's own manager");
        assert.ok(managers[0].fieldsV1["f:spec"]?.["f:sync"], "spec.sync is not owned by kustomize-controller");
        for (const module of spec.bootstrapModules) {
            const kind = moduleResource(module);
            assert.ok(exists("permanent", [kind, "-n", ns, module.name]), `bootstrap module ${module.name}: no ${kind} on the permanent cluster`);
        }
        assert.ok(exists("permanent", ["secret", "-n", "flux-system", "sops-age"]), "no sops-age Secret");
    });

    it("up again: no changes, no step runs", async function () {
        const calls = world.tools.calls.length;
        await pulumi.ok(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
        assert.deepStrictEqual(world.tools.calls.slice(calls), [], "a converged up called kind or docker");
    });

    it("the self-StackReference reads the last sync name from the file backend: a changed fluxSyncName is refused at preview", async function () {
        await pulumi.ok(["config", "set", "fluxSyncName", "renamed"]);
        const refused = await pulumi.run(["preview"]);
        await pulumi.ok(["config", "set", "fluxSyncName", spec.flux.syncName]);
        assert.notStrictEqual(refused.code, 0, "a changed sync name previewed without error");
        const output = `${refused.stdout}${refused.stderr}`;
        assert.match(output, new RegExp(`fluxSyncName changed from "${spec.flux.syncName}" to "renamed"`));
        // The message alone, not a stack trace and a dump of the error (README "Benchmark": it once took minutes).
        assert.doesNotMatch(output, /__pulumiResource|<ref \*\d+>/, "the refusal dumps the component graph");
    });

    it("a config change: rotating sopsAgeKey previews and updates exactly the Secrets that hold it, nothing else", async function () {
        const kinds = "secrets,configmaps,helmchartproxies.addons.cluster.x-k8s.io,clusterresourcesets.addons.cluster.x-k8s.io,fluxinstances.fluxcd.controlplane.io";
        const versions = () =>
            new Map(
                (permanentGet([kinds, "-A"]).items as { kind: string; metadata: { namespace: string; name: string; resourceVersion: string; uid: string } }[]).map((o) => [
                    `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`,
                    `${o.metadata.uid} ${o.metadata.resourceVersion}`,
                ]),
            );
        const before = versions();
        const rotated = newAgeKey();
        ageKeys.push(rotated);
        await pulumi.ok(["config", "set", "--secret", "sopsAgeKey"], { stdin: rotated });
        const changes = previewSteps(await pulumi.ok(["preview", "--json"])).filter((s) => s.op !== "same" && s.op !== "read");
        assert.ok(changes.length > 0, "the rotation previews no change");
        // Provider 4.25 plans a changed Secret as a replacement: created first (an apply of the same name,
        // which takes the object over), the old one then not deleted (retainOnDelete). The API server must see
        // an update of the same object.
        assert.deepStrictEqual(
            changes.filter((s) => !["update", "replace"].includes(s.op) || typeOf(s) !== "kubernetes:core/v1:Secret").map((s) => `${s.op} ${s.urn}`),
            [],
            "the rotation previews more than the Secrets",
        );
        await pulumi.ok(["up", "--yes", "--skip-preview"]);
        const after = versions();
        const changed = [...after].filter(([key, version]) => before.get(key) !== version).map(([key]) => key).sort();
        assert.ok(changed.includes("Secret flux-system/sops-age"), `sops-age was not updated: ${changed.join(", ")}`);
        assert.strictEqual(changed.length, changes.length, `the preview named ${changes.length} updates, the API server saw ${changed.join(", ")}`);
        assert.ok(changed.every((key) => key.startsWith("Secret ")), `more than Secrets changed: ${changed.join(", ")}`);
        const uid = (entry: string | undefined) => entry?.split(" ")[0];
        assert.deepStrictEqual(changed.filter((key) => uid(before.get(key)) !== uid(after.get(key))), [], "a Secret was deleted and created again");
        await pulumi.ok(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    });

    it("stack export: no secret in plain text, kubeconfigs are secret outputs", async function () {
        const exported = (await pulumi.ok(["stack", "export"])).stdout;
        for (const [what, value] of [...ageKeys.map((key) => ["sopsAgeKey", key]), ["the kind API token", world.kind.token], ["the permanent API token", world.permanent.token]]) {
            assert.ok(!exported.includes(value), `${what} is in the exported state in plain text`);
        }
        const outputs = JSON.parse((await pulumi.ok(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
        assert.strictEqual(outputs.managementKubeconfig, "[secret]");
        assert.strictEqual(outputs.temporaryKubeconfig, "[secret]");
    });

    it("destroy: the interlock passes, kind is deleted, every permanent object stays; then the empty stack previews", async function () {
        const before = {
            cluster: permanentGet(["clusters.cluster.x-k8s.io", "-n", ns, mgmt]).metadata.uid,
            instance: permanentGet(["fluxinstances.fluxcd.controlplane.io", "-n", "flux-system", "flux"]).metadata.uid,
        };
        await pulumi.ok(["destroy", "--yes", "--skip-preview"], { timeoutSeconds: 600 });
        assert.ok(!world.tools.kindClusters.has(spec.temporaryCluster.name), "the kind cluster is still there after destroy");
        assert.strictEqual(permanentGet(["clusters.cluster.x-k8s.io", "-n", ns, mgmt]).metadata.uid, before.cluster, "destroy touched the management Cluster");
        assert.strictEqual(permanentGet(["fluxinstances.fluxcd.controlplane.io", "-n", "flux-system", "flux"]).metadata.uid, before.instance, "destroy touched the FluxInstance");
        for (const module of spec.bootstrapModules) {
            const kind = moduleResource(module);
            assert.ok(exists("permanent", [kind, "-n", ns, module.name]), `destroy deleted bootstrap module ${module.name}`);
        }
        await pulumi.ok(["preview"]);
    });
});
