// The "real world" tier (issues 16 and 18): the real step scripts run the real clusterctl and kubectl
// against two real kube-apiservers, "kind" and "permanent", the harness playing the controllers,
// webhooks, kind and docker (test/real/world.ts). One world, in the bootstrap's order: the kind
// cluster, the providers on it (issue 18's scenarios), the management cluster, the providers on the
// permanent side, then issue 16's pivot scenarios (each starts with the Cluster provisioned on kind
// and, after a completed move, moves it back with the real clusterctl), then the kind cluster's
// deletion. Each move asserts nothing was lost: every object once, on the right side, owner
// references resolving, nothing paused.
import * as assert from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { toYaml } from "../../render/yaml";
import { renderManagementBootstrap } from "../../render/modules";
import { providerPins } from "../../stacks/environment";
import { localSpec } from "../fixtures/specs";
import { R } from "./controllers";
import { KubeClient } from "./kubeClient";
import { killStep } from "../support/stepProcess";
import { GraphObject, StepRun, describeRun, graph, removeAll, runStep, stateDir } from "./steps";
import { RealWorld, engineToolsBin, startRealWorld } from "./world";
import { waitBoundMs } from "../support/bounds";

const spec = localSpec({ workloads: [] });
const pins = providerPins(spec);
const KIND = spec.temporaryCluster.name;
const NAME = spec.managementCluster.name;
const NS = spec.clusterNamespace;
const CLUSTER_ID = `${NS}/${NAME}`;

describe("real world: the real clusterctl and kubectl against two real API servers", () => {
    let world: RealWorld;
    let state: string;
    let workDir: string;
    let client: { kind: KubeClient; permanent: KubeClient };
    const bin = engineToolsBin();
    // Asynchronous: the harness answers clusterctl's webhook calls from this process's event loop.
    const clusterctlResult = (...args: string[]): Promise<{ code: number; output: string }> =>
        new Promise((resolve) => {
            execFile("clusterctl", args, { env: { ...process.env, ...world.env }, encoding: "utf8" }, (error, stdout, stderr) =>
                resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` }),
            );
        });
    const clusterctl = async (...args: string[]): Promise<string> => {
        const r = await clusterctlResult(...args);
        if (r.code !== 0) throw new Error(`clusterctl ${args.join(" ")} failed (exit ${r.code}):\n${r.output}`);
        return r.output;
    };
    const expectCode = (run: StepRun, code: number, what: string) =>
        assert.strictEqual(run.code, code, `${what}: expected exit ${code}, got ${describeRun(run)}\ncontrollers' last errors: ${JSON.stringify([...world.controllers.lastError])}`);
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

    before(async () => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-real-"));
        // Also on an interrupt (the servers' exit hooks stop them, then this runs); a kill -9 leaves it.
        process.once("exit", () => fs.rmSync(workDir, { recursive: true, force: true }));
        world = await startRealWorld({ workDir, binDir: bin, managementClusterName: NAME, namespace: NS, kindClusterName: KIND });
        client = { kind: new KubeClient(world.kind), permanent: new KubeClient(world.permanent) };
        state = stateDir(world, "bootstrap");
        console.log(`      real clusterctl ${(await clusterctl("version", "-o", "short")).trim()}, kubectl ${JSON.parse(world.kind.kubectl(["version", "-o", "json"])).clientVersion.gitVersion}, kube-apiserver ${JSON.parse(world.kind.kubectl(["version", "-o", "json"])).serverVersion.gitVersion}`);
        console.log(`      clusterctl local repository: ${world.repository}`);
    });

    after(async () => {
        client?.kind.close();
        client?.permanent.close();
        await world?.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    // ------------------------------------------------------------------ helpers on the world

    /** Waits until the harness's controllers report the management Cluster Available on `side`. */
    async function clusterAvailable(side: "kind" | "permanent", timeoutMs = waitBoundMs()): Promise<void> {
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
        await clusterctl("move", "--kubeconfig", world.permanent.kubeconfigPath, "--to-kubeconfig", world.kind.kubeconfigPath, "-n", NS);
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
            const direct = await clusterctlResult("init", "--kubeconfig", world.kind.kubeconfigPath, "--infrastructure", "docker:v1.14.1");
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

        it("2. a move killed halfway (the step SIGKILLed while objects appear on the target): the re-run completes it", async () => {
            const before = await graph(world.kind, NS);
            let killedAt = "";
            const run = await runStep(world, state, "pivot", pivotEnv(), {
                started: (child) => {
                    // Kill as soon as the move has created the Cluster on the target: mid-create.
                    const watch = setInterval(() => {
                        void client.permanent.get(R.cluster, NS, NAME).then((c) => {
                            if (c && !killedAt) {
                                killedAt = new Date().toISOString();
                                clearInterval(watch);
                                killStep(child);
                            }
                        }, () => undefined);
                    }, 20);
                    child.on("close", () => clearInterval(watch));
                },
            });
            assert.strictEqual(run.signal, "SIGKILL", `the step was killed mid-move: ${describeRun(run)}`);
            const src = await client.kind.get(R.cluster, NS, NAME);
            const dst = await client.permanent.get(R.cluster, NS, NAME);
            assert.ok(src && dst, "interrupted: the Cluster is on both sides");
            assert.strictEqual(src.spec.paused, true, "the move had paused the source");
            // The real clusterctl refuses the paused source (the step unpauses it first).
            const direct = await clusterctlResult("move", "--kubeconfig", world.kind.kubeconfigPath, "--to-kubeconfig", world.permanent.kubeconfigPath, "-n", NS);
            console.log(`      real clusterctl on the paused source: exit ${direct.code}: ${direct.output.trim().split("\n").pop()}`);
            assert.strictEqual(direct.code, 1);
            assert.match(direct.output, new RegExp(`Error: cannot start operation while the following Clusters are paused: ${NS}/${NAME}`));
            const again = await runStep(world, state, "pivot", pivotEnv());
            expectCode(again, 0, "pivot after the kill");
            assert.match(again.stderr, /on both clusters: an earlier move was interrupted; moving again completes it/);
            await assertMoved(before, "kind", "permanent");
            await moveBackToKind();
        });

        it("3. a cluster still provisioning: refused before anything is paused", async () => {
            const before = await graph(world.kind, NS);
            const machines = await client.kind.list(R.machine, NS);
            const joining = machines[machines.length - 1];
            // A moment of provisioning, frozen: the controllers stop, one Machine's node has not joined yet.
            await world.controllers.pause("kind");
            try {
                await client.kind.mergePatch(R.machine, NS, joining.metadata.name, { status: { nodeRef: null } }, "status");
                const run = await runStep(world, state, "pivot", pivotEnv({ FLEET_WAIT_TIMEOUT_SECONDS: "4" }));
                expectCode(run, 1, "pivot of a provisioning cluster");
                assert.match(run.stderr, new RegExp(`still provisioning after 4s: Machines without a nodeRef: ${joining.metadata.name}`));
                assert.deepStrictEqual(await graph(world.kind, NS), before, "nothing paused or changed on kind");
                assert.deepStrictEqual(await graph(world.permanent, NS), [], "nothing on the permanent side");
                // The real clusterctl refuses it too, before pausing anything.
                const direct = await clusterctlResult("move", "--kubeconfig", world.kind.kubeconfigPath, "--to-kubeconfig", world.permanent.kubeconfigPath, "-n", NS);
                assert.strictEqual(direct.code, 1);
                assert.match(direct.output, new RegExp(`failed to get object graph: failed to check for provisioned infrastructure: cannot start the move operation while "/, Kind=" ${NS}/${joining.metadata.name} is still provisioning the node`));
                assert.deepStrictEqual(await graph(world.kind, NS), before, "clusterctl paused nothing");
                await client.kind.mergePatch(R.cluster, NS, NAME, { status: { initialization: { infrastructureProvisioned: false } } }, "status");
                const infra = await clusterctlResult("move", "--kubeconfig", world.kind.kubeconfigPath, "--to-kubeconfig", world.permanent.kubeconfigPath, "-n", NS);
                console.log(`      real clusterctl on a Cluster provisioning its infrastructure: exit ${infra.code}: ${infra.output.trim().split("\n").pop()}`);
                assert.strictEqual(infra.code, 1);
                assert.match(infra.output, new RegExp(`cannot start the move operation while .*${NS}/${NAME} is still provisioning the infrastructure`));
            } finally {
                world.controllers.resume("kind");
            }
            await clusterAvailable("kind");
        });

        it("4. the target's providers missing or older: refused with the message and the fix", async () => {
            const before = await graph(world.kind, NS);
            const inventory = { group: "clusterctl.cluster.x-k8s.io", version: "v1alpha3", plural: "providers", namespaced: true };
            const docker = await client.permanent.get(inventory, "capd-system", "infrastructure-docker");
            const core = await client.permanent.get(inventory, "capi-system", "cluster-api");
            assert.ok(docker && core, "the permanent side's inventory");
            try {
                await client.permanent.delete(inventory, "capd-system", "infrastructure-docker");
                await client.permanent.mergePatch(inventory, "capi-system", "cluster-api", { version: "v1.13.6" });
                const run = await runStep(world, state, "pivot", pivotEnv());
                expectCode(run, 1, "pivot to a target with missing/older providers");
                assert.match(run.stderr, /InfrastructureProvider 'docker' \(v1\.14\.0 on the temporary cluster\) is not installed on the permanent cluster/);
                assert.match(run.stderr, /CoreProvider 'cluster-api' is v1\.13\.6 on the permanent cluster, older than v1\.14\.0 on the temporary cluster/);
                assert.match(run.stderr, /its capi-providers step installs the same pins on the permanent cluster/);
                assert.deepStrictEqual(await graph(world.kind, NS), before, "nothing paused or moved");
                // The real clusterctl's own check, for the fake's wording.
                const direct = await clusterctlResult("move", "--kubeconfig", world.kind.kubeconfigPath, "--to-kubeconfig", world.permanent.kubeconfigPath, "-n", NS);
                assert.strictEqual(direct.code, 1);
                assert.match(direct.output, /provider cluster-api in the target cluster is older than in the source cluster \(source: 1\.14\.0, target: 1\.13\.6\)|provider infrastructure-docker not found in the target cluster/);
            } finally {
                const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, managedFields: _mf, ...meta } = docker.metadata;
                await client.permanent.create(inventory, { ...docker, metadata: meta });
                await client.permanent.mergePatch(inventory, "capi-system", "cluster-api", { version: core.version });
            }
        });

        it("5. a block-move annotation that clears after a while: the step waits, says why, then moves", async () => {
            const before = await graph(world.kind, NS);
            const annotation = "clusterctl.cluster.x-k8s.io/block-move";
            await client.kind.mergePatch(R.devCluster, NS, NAME, { metadata: { annotations: { [annotation]: "true" } } });
            // The provider removes it once it has finished what it was doing: here 5 s after the move
            // started waiting for it.
            let stderr = "";
            let clearedAt = 0;
            let clear: NodeJS.Timeout | undefined;
            let run: StepRun;
            try {
                run = await runStep(world, state, "pivot", pivotEnv(), {
                    onStderr: (chunk) => {
                        stderr += chunk.toString();
                        if (clear || !stderr.includes("clusterctl move: Move blocked by")) return;
                        clear = setTimeout(() => {
                            clearedAt = Date.now();
                            void client.kind.mergePatch(R.devCluster, NS, NAME, { metadata: { annotations: { [annotation]: null } } });
                        }, 5_000);
                    },
                });
            } finally {
                clearTimeout(clear);
            }
            expectCode(run, 0, "pivot with a block-move annotation");
            // clusterctl says what it waits for; the step relays it.
            assert.ok(
                run.stderr.includes(`[pivot] clusterctl move: Move blocked by ${annotation} annotation, waiting for it to be removed apiVersion={"Group":"infrastructure.cluster.x-k8s.io","Version":"v1beta2","Kind":"DevCluster"} resource={"name":"${NAME}","namespace":"${NS}"}`),
                "the step relays what the move waits for",
            );
            assert.ok(clearedAt > 0, "the move waited until the annotation was removed");
            await assertMoved(before, "kind", "permanent");
        });

        it("6. the backup: written before the move, private, restorable with --from-directory", async () => {
            // Scenario 5 moved the Cluster to the permanent side: its backup is the newest.
            const root = path.join(state, "local", "move-backup");
            const backup = path.join(root, fs.readdirSync(root).sort().pop() as string);
            assert.strictEqual(fs.statSync(backup).mode & 0o777, 0o700, "the backup directory is 0700");
            const files = fs.readdirSync(backup);
            for (const f of files) assert.strictEqual(fs.statSync(path.join(backup, f)).mode & 0o777, 0o600, `${f} is 0600`);
            const moved = await graph(world.permanent, NS);
            assert.strictEqual(files.length, moved.length, `one file per moved object: ${files.join(", ")}`);
            assert.ok(files.some((f) => /^Secret_.*_mgmt-ca\.yaml$/.test(f)), "the CA Secret (its key) is in the backup");
            // Restore into the kind server (emptied by the move) with its controllers stopped, compare, remove again.
            await world.controllers.pause("kind");
            try {
                await clusterctl("move", "--from-directory", backup, "--to-kubeconfig", world.kind.kubeconfigPath, "-n", NS);
                const restored = await graph(world.kind, NS);
                assert.deepStrictEqual(restored.map((o) => [o.id, o.owners]), moved.map((o) => [o.id, o.owners]), "restored with the same objects and owners");
                await removeAll(world.kind, restored);
                assert.deepStrictEqual(await graph(world.kind, NS), [], "the restored copy removed");
            } finally {
                world.controllers.resume("kind");
            }
            await moveBackToKind();
        });

        it("7. the verification after the move: passes with the target's controllers, fails clearly without them", async () => {
            const before = await graph(world.kind, NS);
            await world.controllers.pause("permanent");
            let run: StepRun;
            try {
                run = await runStep(world, state, "pivot", pivotEnv({ FLEET_ROLLOUT_WATCH_SECONDS: "6" }));
            } finally {
                world.controllers.resume("permanent");
            }
            expectCode(run, 1, "pivot whose target controllers do not run");
            assert.match(run.stderr, /has not been reported Available by the permanent cluster's controllers/);
            await assertMoved(before, "kind", "permanent");
            await clusterAvailable("permanent");
            const again = await runStep(world, state, "pivot", pivotEnv());
            expectCode(again, 0, "pivot once the target's controllers run");
            assert.match(again.stderr, /already pivoted/);
        });
    });

    describe("after the pivot", () => {
        it("temporary-cluster-delete: the kind cluster goes, with everything in it", async () => {
            const run = await runStep(world, state, "temporary-cluster-delete", { KIND_CLUSTER_NAME: KIND });
            expectCode(run, 0, "temporary-cluster-delete");
            assert.deepStrictEqual([...world.tools.kindClusters.keys()], []);
            assert.throws(() => world.kind.kubectl(["get", "namespaces"]), /refused/);
            await clusterAvailable("permanent");
        });
    });
});
