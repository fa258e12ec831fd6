// The "real world" tier (issues 16 and 18): the real step scripts run the real clusterctl and kubectl
// against two real kube-apiservers, "kind" and "permanent", the harness playing the controllers,
// webhooks, kind and docker (test/real/world.ts). One world, in the bootstrap's order: the kind
// cluster, the providers on it (issue 18's scenarios), the management cluster, the providers on the
// permanent side, then issue 16's pivot scenarios (each starts with the Cluster provisioned on kind
// and, after a completed move, moves it back with the real clusterctl), then the kind cluster's
// deletion. Each move asserts nothing was lost: every object once, on the right side, owner
// references resolving, nothing paused.
import * as assert from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { toYaml } from "../../render/yaml";
import { renderManagementBootstrap } from "../../render/modules";
import { providerPins } from "../../stacks/environment";
import { localSpec } from "../fixtures/specs";
import { R } from "./controllers";
import { KubeClient } from "./kubeClient";
import { GraphObject, StepRun, describeRun, graph, runStep, stateDir } from "./steps";
import { RealWorld, engineToolsBin, startRealWorld } from "./world";

const spec = localSpec({ workloads: [] });
const pins = providerPins(spec);
const KIND = spec.temporaryCluster.name;
const NAME = spec.managementCluster.name;
const NS = spec.clusterNamespace;
const CLUSTER_ID = `${NS}/${NAME}`;

function expectCode(run: StepRun, code: number, what: string): void {
    assert.strictEqual(run.code, code, `${what}: expected exit ${code}, got ${describeRun(run)}`);
}

describe("real world: the real clusterctl and kubectl against two real API servers", function () {
    this.timeout(300_000);
    let world: RealWorld;
    let state: string;
    let client: { kind: KubeClient; permanent: KubeClient };
    const bin = engineToolsBin();
    const clusterctl = (...args: string[]) =>
        execFileSync("clusterctl", args, { env: { ...process.env, ...world.env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    /** clusterctl's combined output and exit code, for the commands expected to fail. */
    const clusterctlResult = (...args: string[]): { code: number; output: string } => {
        try {
            return { code: 0, output: clusterctl(...args) };
        } catch (e) {
            const err = e as { status: number; stdout: string; stderr: string };
            return { code: err.status, output: `${err.stdout}${err.stderr}` };
        }
    };
    const providersEnv = (target: "temporary" | "permanent", overrides: Record<string, string> = {}) => ({
        FLEET_TARGET: target,
        ...(target === "temporary" ? { KIND_CLUSTER_NAME: KIND } : { FLEET_TARGET_KUBECONFIG: world.permanent.kubeconfig }),
        CAPI_CORE: pins.core,
        CAPI_BOOTSTRAP: pins.bootstrap,
        CAPI_CONTROL_PLANE: pins.controlPlane,
        CAPI_INFRASTRUCTURE: pins.infrastructure,
        CAPI_ADDON: pins.addon,
        ...overrides,
    });
    const pivotEnv = (overrides: Record<string, string> = {}) => ({
        KIND_CLUSTER_NAME: KIND,
        FLEET_TARGET_KUBECONFIG: world.permanent.kubeconfig,
        CLUSTER_NAME: NAME,
        CLUSTER_NAMESPACE: NS,
        ...overrides,
    });

    before(async function () {
        this.timeout(600_000);
        const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-real-"));
        world = await startRealWorld({ workDir, binDir: bin, managementClusterName: NAME, namespace: NS, kindClusterName: KIND });
        client = { kind: new KubeClient(world.kind), permanent: new KubeClient(world.permanent) };
        state = stateDir(world, "bootstrap");
        console.log(`      real clusterctl ${clusterctl("version", "-o", "short").trim()}, kubectl ${JSON.parse(world.kind.kubectl(["version", "-o", "json"])).clientVersion.gitVersion}, kube-apiserver ${JSON.parse(world.kind.kubectl(["version", "-o", "json"])).serverVersion.gitVersion}`);
        console.log(`      clusterctl local repository: ${world.repository}`);
    });

    after(async () => {
        client?.kind.close();
        client?.permanent.close();
        await world?.stop();
    });

    // ------------------------------------------------------------------ helpers on the world

    /** Waits until the harness's controllers report the management Cluster Available on `side`. */
    async function clusterAvailable(side: "kind" | "permanent", timeoutMs = 60_000): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const c = await client[side].get(R.cluster, NS, NAME);
            const available = (c?.status?.conditions ?? []).some((x: { type: string; status: string }) => x.type === "Available" && x.status === "True");
            if (available) return;
            if (Date.now() > deadline) {
                throw new Error(`Cluster ${CLUSTER_ID} not Available on ${side} after ${timeoutMs / 1000} s; controllers: ${JSON.stringify([...world.controllers.lastError])}; status: ${JSON.stringify(c?.status)}`);
            }
            await new Promise((r) => setTimeout(r, 250));
        }
    }

    /** Nothing lost: `expected` is on `to` exactly (ids, owners), `from` holds none of it, nothing is paused. */
    async function assertMoved(expected: GraphObject[], from: "kind" | "permanent", to: "kind" | "permanent"): Promise<void> {
        const there = await graph(world[to], NS);
        const left = await graph(world[from], NS);
        assert.deepStrictEqual(there.map((o) => o.id), expected.map((o) => o.id), `every object once on ${to}`);
        assert.deepStrictEqual(there.map((o) => [o.id, o.owners]), expected.map((o) => [o.id, o.owners]), `owner references on ${to} resolve to the same owners`);
        assert.deepStrictEqual(there.filter((o) => o.paused).map((o) => o.id), [], `nothing paused on ${to}`);
        assert.deepStrictEqual(left.map((o) => o.id), [], `nothing of ${CLUSTER_ID} left on ${from}`);
    }

    /** Back to the starting state of every pivot scenario: the Cluster on kind, Available. */
    async function moveBackToKind(): Promise<void> {
        const before = await graph(world.permanent, NS);
        clusterctl("move", "--kubeconfig", world.permanent.kubeconfigPath, "--to-kubeconfig", world.kind.kubeconfigPath, "-n", NS);
        await assertMoved(before, "permanent", "kind");
        await clusterAvailable("kind");
    }

    // ------------------------------------------------------------------ kind and the providers (issue 18)

    describe("the temporary cluster and its providers (issue 18)", () => {
        it("temporary-cluster-create: the fake kind hands out the kind API server", async () => {
            const run = await runStep(world, state, "temporary-cluster-create", {
                KIND_CLUSTER_NAME: KIND,
                KIND_NODE_IMAGE: spec.temporaryCluster.nodeImage,
                KIND_CONFIG: "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n",
            });
            expectCode(run, 0, "temporary-cluster-create");
            assert.match(run.stdout, new RegExp(`server: ${world.kind.url}`));
        });

        it("fresh install: clusterctl init from the local repository, providers Available, CRDs Established, webhooks answering", async () => {
            const run = await runStep(world, state, "capi-providers", providersEnv("temporary"));
            expectCode(run, 0, "capi-providers on kind");
            assert.deepStrictEqual(run.stdout.trim().split("\n"), [
                `AddonProvider/helm=${pins.addon.split(":")[1]}`,
                `BootstrapProvider/kubeadm=${spec.versions.clusterApi}`,
                `ControlPlaneProvider/kubeadm=${spec.versions.clusterApi}`,
                `CoreProvider/cluster-api=${spec.versions.clusterApi}`,
                `InfrastructureProvider/docker=${spec.versions.clusterApi}`,
            ]);
            assert.match(run.stderr, /Installing cert-manager/);
            assert.match(run.stderr, /all 5 provider Deployments are Available/);
            assert.match(run.stderr, /all \d+ provider CRDs are Established/);
            assert.ok(world.webhooks.calls.some((c) => c.kind === "Cluster"), "the webhook probe went through a Cluster API webhook");
        });

        it("re-run: a no-op (nothing installed, the same inventory)", async () => {
            const run = await runStep(world, state, "capi-providers", providersEnv("temporary"));
            expectCode(run, 0, "capi-providers again");
            assert.match(run.stderr, /all pinned providers are already installed on the temporary cluster .*: clusterctl init not needed/);
            assert.doesNotMatch(run.stderr, /clusterctl: /);
        });

        it("a provider at another version: stops with the clusterctl upgrade command, installs nothing", async () => {
            const run = await runStep(world, state, "capi-providers", providersEnv("temporary", { CAPI_INFRASTRUCTURE: "docker:v1.14.2" }));
            expectCode(run, 1, "capi-providers with docker:v1.14.2 over v1.14.0");
            assert.match(run.stderr, /InfrastructureProvider 'docker' is v1\.14\.0 on the temporary cluster .*CAPI_INFRASTRUCTURE pins v1\.14\.2/);
            assert.match(run.stderr, /Upgrade them with: clusterctl upgrade apply --infrastructure capd-system\/docker:v1\.14\.2/);
            // What the real clusterctl says when asked directly (the fake clusterctl says the same).
            const direct = clusterctlResult("init", "--kubeconfig", world.kind.kubeconfigPath, "--infrastructure", "docker:v1.14.1");
            assert.strictEqual(direct.code, 1);
            assert.match(direct.output, /there is already an instance of the "infrastructure-docker" provider installed in the "capd-system" namespace/);
        });

        it("a version the repository does not have: a clear message, nothing installed", async () => {
            const run = await runStep(world, state, "capi-providers", providersEnv("permanent", { CAPI_INFRASTRUCTURE: "docker:v1.14.9" }));
            expectCode(run, 1, "capi-providers with docker:v1.14.9");
            assert.match(run.stderr, /clusterctl init on the permanent cluster failed \(exit 1\): .*v1\.14\.9/);
            assert.match(run.stderr, /installed now: no providers/);
        });
    });

    // ------------------------------------------------------------------ the management cluster

    describe("the management cluster and the permanent side's providers", () => {
        it("management-cluster: applied to kind, provisioned by the controllers, prints the permanent kubeconfig", async () => {
            const run = await runStep(world, state, "management-cluster", { KIND_CLUSTER_NAME: KIND, CLUSTER_NAME: NAME, CLUSTER_NAMESPACE: NS, FLEET_PROVIDER: "docker" }, {
                stdin: toYaml(renderManagementBootstrap(spec)),
            });
            expectCode(run, 0, "management-cluster");
            assert.strictEqual(run.stdout, world.permanent.kubeconfig, "the kubeconfig Secret's value: the permanent server");
            await clusterAvailable("kind");
        });

        it("capi-providers on the permanent side: the same pins", async () => {
            const run = await runStep(world, state, "capi-providers", providersEnv("permanent"));
            expectCode(run, 0, "capi-providers on permanent");
            assert.strictEqual(run.stdout.trim().split("\n").length, 5);
        });
    });

    // ------------------------------------------------------------------ the pivot (issue 16)

    describe("the pivot (issue 16)", () => {
        it("1. a fresh move, then a re-run that does nothing", async () => {
            const before = await graph(world.kind, NS);
            assert.ok(before.length >= 15, `a whole cluster to move, got ${before.map((o) => o.id).join(", ")}`);
            const run = await runStep(world, state, "pivot", pivotEnv());
            expectCode(run, 0, "pivot");
            await assertMoved(before, "kind", "permanent");
            assert.match(run.stderr, /pivot done/);
            const again = await runStep(world, state, "pivot", pivotEnv());
            expectCode(again, 0, "pivot re-run");
            assert.match(again.stderr, /already pivoted/);
            assert.strictEqual(again.stdout, run.stdout, "the same backup location");
            await assertMoved(before, "kind", "permanent");
            await moveBackToKind();
        });
    });
});
