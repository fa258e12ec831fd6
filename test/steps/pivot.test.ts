// Fault matrix of pivot (clusterctl move from the temporary to the permanent cluster).
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    cell,
    KIND, MGMT, MGMT_NS, TestWorld, assertFailureMessage, checkInvariants, invocations, seedManagementReady,
    renderedManagement,
} from "./harness";
import { K8sObj, ServerState, unb64 } from "../fakes/world";

const manifests = renderedManagement({ name: MGMT, namespace: MGMT_NS, provider: "docker", workers: 2 });
const CLUSTER_KEY = `${MGMT_NS}/${MGMT}`;
const AGE_RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

function envFor(w: TestWorld, extra: Record<string, string> = {}): Record<string, string> {
    return { KIND_CLUSTER_NAME: KIND, FLEET_TARGET_KUBECONFIG: w.kubeconfigOf(MGMT), CLUSTER_NAME: MGMT, CLUSTER_NAMESPACE: MGMT_NS, ...extra };
}

function ready(scenario = {}, settle?: number): TestWorld {
    const w = new TestWorld({ scenario });
    seedManagementReady(w, manifests, { settle });
    return w;
}

function clusterOn(srv: ServerState | undefined): K8sObj | undefined {
    return srv?.objects["Cluster.cluster.x-k8s.io"]?.[CLUSTER_KEY];
}

function machineNames(srv: ServerState | undefined): string[] {
    return Object.values(srv?.objects["Machine.cluster.x-k8s.io"] ?? {}).map((m) => m.metadata.name).sort();
}

/** The end state of a successful pivot: on the target, unpaused, gone from the source, same Machines. */
function assertPivoted(w: TestWorld, machinesBefore: string[]): void {
    const src = w.kindServer();
    const dst = w.serverNamed(MGMT);
    assert.strictEqual(clusterOn(src), undefined, "Cluster gone from the temporary cluster");
    assert.deepStrictEqual(machineNames(src), [], "Machines gone from the temporary cluster");
    const c = clusterOn(dst);
    assert.ok(c, "Cluster on the permanent cluster");
    assert.notStrictEqual(c.spec?.paused, true, "Cluster unpaused on the permanent cluster");
    assert.deepStrictEqual(machineNames(dst), machinesBefore, "same Machines on the permanent cluster");
    assert.ok(dst?.objects["Secret"][`${MGMT_NS}/${MGMT}-kubeconfig`], "kubeconfig Secret moved");
}

const moveCalls = (r: { log: { tool: string; argv: string[] }[] }) =>
    r.log.filter((e) => e.tool === "clusterctl" && e.argv[0] === "move" && !e.argv.includes("--dry-run") && !e.argv.some((a) => a === "--to-directory"));

/** Replicas of the Helm add-on controller (CAAPH) on a cluster. */
function addonReplicas(srv: ServerState | undefined): number | undefined {
    const deployment = srv?.objects["Deployment.apps"]?.["caaph-system/caaph-controller-manager"] as { spec?: { replicas?: number } } | undefined;
    return deployment?.spec?.replicas;
}

describe("step pivot", () => {
    cell("fresh: guards, dry run, 0700 backup, move, verify; prints the backup location; already done: a second run is a no-op; then the temporary cluster may go", async () => {
        const w = ready();
        const before = machineNames(w.kindServer());
        const r = await w.run("pivot", envFor(w));
        assert.strictEqual(r.code, 0, r.stderr);
        assertPivoted(w, before);
        assert.strictEqual(invocations(r, "clusterctl", "move", "--dry-run").length, 1);
        assert.strictEqual(invocations(r, "clusterctl", "move", "--to-directory").length, 1);
        const moves = moveCalls(r);
        assert.strictEqual(moves.length, 1);
        assert.deepStrictEqual(moves[0].argv.filter((a) => !a.startsWith("/")), ["move", "--kubeconfig", "--to-kubeconfig", "-n", MGMT_NS]);
        const backup = r.stdout.trim();
        assert.ok(backup.startsWith(path.join(w.envDir, "move-backup") + path.sep), backup);
        assert.strictEqual((fs.statSync(backup).mode & 0o777).toString(8), "700");
        const files = fs.readdirSync(backup).sort();
        assert.ok(files.includes(`Cluster_${MGMT_NS}_${MGMT}.yaml`) && files.includes(`Secret_${MGMT_NS}_${MGMT}-ca.yaml`), files.join(" "));
        for (const f of files) assert.strictEqual((fs.statSync(path.join(backup, f)).mode & 0o777).toString(8), "600", f);
        assert.match(r.stderr, /It holds the cluster's CA keys and kubeconfig Secrets/);
        assert.match(r.stderr, /API server of the temporary cluster \(kind 'fleet-local'\) answered 1 of 1 probes/);
        assert.match(r.stderr, /the permanent cluster has every provider of the temporary cluster/);
        assert.match(r.stderr, /clusterctl move --dry-run lists Cluster fleet-system\/mgmt/);
        assert.match(r.stderr, /verified: Cluster fleet-system\/mgmt is on the permanent cluster, unpaused, and gone from the temporary cluster/);
        assert.strictEqual(addonReplicas(w.kindServer()), 0, "CAAPH on kind stopped before the Cluster left it");
        const second = await w.run("pivot", envFor(w));
        assert.strictEqual(second.code, 0, second.stderr);
        assert.strictEqual(second.log.filter((e) => e.tool === "clusterctl").length, 0);
        assert.match(second.stderr, /already pivoted: Cluster fleet-system\/mgmt is on the permanent cluster, unpaused, Available, and not on the temporary cluster; nothing to do/);
        assert.strictEqual(second.stdout, r.stdout);
        // The interlock now lets the temporary cluster go.
        const del = await w.run("temporary-cluster-delete", { KIND_CLUSTER_NAME: KIND });
        assert.strictEqual(del.code, 0, del.stderr);
        checkInvariants(w);
    });

    cell("already done, temporary cluster deleted since (another machine): still a verified no-op, prints the previous location", async () => {
        const w = ready();
        w.seed((world) => {
            world.seedPivot(world.serverByName(KIND) as ServerState, MGMT_NS);
            world.deleteKindCluster(KIND, "kind-vanished");
        });
        const r = await w.run("pivot", envFor(w, { PULUMI_COMMAND_STDOUT: "/home/ci/.fleet-bootstrap/local/move-backup/20260101T000000Z" }));
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /the temporary kind cluster 'fleet-local' no longer exists/);
        assert.strictEqual(r.stdout, "/home/ci/.fleet-bootstrap/local/move-backup/20260101T000000Z\n");
        assert.strictEqual(r.log.filter((e) => e.tool === "clusterctl").length, 0);
        checkInvariants(w);
    });

    cell("interrupted mid-move (step killed after creating part of it on the target, source left paused): the re-run unpauses and completes it", async () => {
        const w = ready({ fail: { "clusterctl move": [{ times: 1, notArgv: ["--dry-run", "--to-directory"], crash: "mid-create", kill: true }] } });
        const before = machineNames(w.kindServer());
        const killed = await w.run("pivot", envFor(w));
        assert.strictEqual(killed.signal, "SIGKILL");
        assert.strictEqual(clusterOn(w.kindServer())?.spec?.paused, true, "the kill left the source paused");
        assert.strictEqual(clusterOn(w.serverNamed(MGMT))?.spec?.paused, true, "and a paused partial copy on the target");
        const r = await w.run("pivot", envFor(w));
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /on both clusters: an earlier move was interrupted; moving again completes it/);
        assert.match(r.stderr, /paused on the temporary cluster .*: unpausing it before moving/);
        assert.strictEqual(moveCalls(r).length, 1);
        assertPivoted(w, before);
        checkInvariants(w);
    });

    cell("interrupted after everything was created on the target, before deleting from the source (step killed): the re-run completes it", async () => {
        const w = ready({ fail: { "clusterctl move": [{ times: 1, notArgv: ["--dry-run", "--to-directory"], crash: "after-create", kill: true }] } });
        const before = machineNames(w.kindServer());
        await w.run("pivot", envFor(w));
        assert.deepStrictEqual(machineNames(w.serverNamed(MGMT)), before, "the target got every Machine");
        const r = await w.run("pivot", envFor(w));
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(moveCalls(r).length, 1);
        assertPivoted(w, before);
        checkInvariants(w);
    });

    cell("interrupted after the source was emptied but before the target was unpaused: the re-run unpauses it there", async () => {
        const w = ready({ fail: { "clusterctl move": [{ times: 1, notArgv: ["--dry-run", "--to-directory"], crash: "after-delete", kill: true }] } });
        const before = machineNames(w.kindServer());
        await w.run("pivot", envFor(w));
        const r = await w.run("pivot", envFor(w));
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /still paused \(a move was interrupted after deleting it from the source\): unpausing it there/);
        assert.strictEqual(moveCalls(r).length, 0);
        assertPivoted(w, before);
        checkInvariants(w);
    });

    cell("interrupted while the backup had the source paused (step killed): the re-run unpauses and proceeds", async () => {
        const w = ready({ fail: { "clusterctl move --to-directory": [{ times: 1, crash: "after-pause", kill: true }] } });
        const before = machineNames(w.kindServer());
        await w.run("pivot", envFor(w));
        const r = await w.run("pivot", envFor(w));
        assert.strictEqual(r.code, 0, r.stderr);
        assertPivoted(w, before);
        checkInvariants(w);
    });

    cell("interrupted after the move started deleting from the source: stops without unpausing the source (its controllers would recreate Machines)", async () => {
        const w = ready({ fail: { "clusterctl move": [{ notArgv: ["--dry-run", "--to-directory"], crash: "mid-delete", stderr: "Error: action failed after 10 attempts: error deleting \"cluster.x-k8s.io/v1beta2, Kind=MachineDeployment\" fleet-system/mgmt-md-0: context deadline exceeded" }] } });
        const r = await w.run("pivot", envFor(w));
        assertFailureMessage(r, /an interrupted clusterctl move had already started deleting Cluster fleet-system\/mgmt from the temporary cluster .*Machines mgmt-/, /finish the move by hand: .*then run pulumi up -s local/);
        assert.match(r.stderr, /State: the permanent cluster holds a complete, paused copy of fleet-system\/mgmt/);
        assert.strictEqual(clusterOn(w.kindServer())?.spec?.paused, true);
        const again = await w.run("pivot", envFor(w));
        assertFailureMessage(again, /already started deleting/, /finish the move by hand/);
        assert.strictEqual(moveCalls(again).length, 0);
        checkInvariants(w, { allowPausedSource: true });
    });

    cell("transient: move fails twice on connection errors after pausing; unpaused between attempts, retried with backoff, completed", async () => {
        const refused = 'Error: failed to connect to the management cluster: action failed after 9 attempts: Get "https://127.0.0.1:40002/api?timeout=30s": dial tcp 127.0.0.1:40002: connect: connection refused';
        const w = ready({ fail: { "clusterctl move": [{ times: 2, notArgv: ["--dry-run", "--to-directory"], crash: "after-pause", stderr: refused }] } });
        const before = machineNames(w.kindServer());
        const r = await w.run("pivot", envFor(w));
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(moveCalls(r).length, 3);
        assert.strictEqual(r.stderr.match(/unpaused Cluster fleet-system\/mgmt on the temporary cluster/g)?.length, 2);
        assert.match(r.stderr, /clusterctl move failed with a transient error: Error: failed to connect to the management cluster.*; retrying/);
        assertPivoted(w, before);
        checkInvariants(w);
    });

    cell("transient: an API server that flaps fails the stability probe; nothing moved", async () => {
        const w = ready({ flap: { [MGMT]: 2 } });
        const r = await w.run("pivot", envFor(w, { FLEET_API_PROBES: "3" }));
        assertFailureMessage(r, /the API server of the permanent cluster is not stable \(probes keep failing: The connection to the server 127\.0\.0\.1:\d+ was refused/, /when both API servers answer steadily, run pulumi up -s local/);
        assert.strictEqual(r.log.filter((e) => e.tool === "clusterctl").length, 0);
        assert.ok(clusterOn(w.kindServer()));
        checkInvariants(w);
    });


    cell("permanent: a non-transient move failure unpauses the source and names the state and how to resume", async () => {
        const w = ready({ fail: { "clusterctl move": [{ notArgv: ["--dry-run", "--to-directory"], crash: "after-pause", stderr: 'Error: failed to get object graph: failed to discover the object graph: machinesets.cluster.x-k8s.io is forbidden: User "kind-fleet-local" cannot list resource "machinesets"' }] } });
        const r = await w.run("pivot", envFor(w));
        assertFailureMessage(r, /clusterctl move failed \(not a transient error, so not retried\): Error: failed to get object graph: .*forbidden/, /fix the cause above, then run pulumi up -s local \(the pivot step re-checks both clusters and completes the move\)/);
        assert.match(r.stderr, /State: Cluster fleet-system\/mgmt is on the temporary cluster only \(unpaused\); nothing was moved; backup: \//);
        assert.strictEqual(moveCalls(r).length, 1);
        assert.notStrictEqual(clusterOn(w.kindServer())?.spec?.paused, true);
        assert.strictEqual(addonReplicas(w.kindServer()), 1, "CAAPH on kind runs again: the Cluster stays there");
        checkInvariants(w);
    });

    cell("guard: providers older or missing on the target: refused before any move (after the default 10-request stability probes)", async () => {
        const w = new TestWorld();
        seedManagementReady(w, manifests, { permanentProviders: false });
        w.seed((world) => world.seedProviders(world.serverByName(MGMT) as ServerState, ["CoreProvider/cluster-api:v1.13.0"]));
        const r = await w.run("pivot", envFor(w), { env: { FLEET_API_PROBES: undefined } });
        assert.strictEqual(invocations(r, "kubectl", "get", "namespace", "kube-system").length, 10 + 10);
        assert.match(r.stderr, /answered 10 of 10 probes/);
        assertFailureMessage(r, /the permanent cluster lacks providers the move needs/, /its capi-providers step installs the same pins on the permanent cluster/);
        assert.match(r.stderr, /CoreProvider 'cluster-api' is v1\.13\.0 on the permanent cluster, older than v1\.14\.0 on the temporary cluster/);
        assert.match(r.stderr, /InfrastructureProvider 'docker' \(v1\.14\.0 on the temporary cluster\) is not installed on the permanent cluster/);
        assert.strictEqual(r.log.filter((e) => e.tool === "clusterctl").length, 0);
        checkInvariants(w);
    });

    cell("guard: still provisioning (a Machine without a nodeRef) waits, then times out without moving", async () => {
        const w = ready({ clusters: { [MGMT]: { stallAt: "ControlPlaneAvailable" } } });
        const r = await w.run("pivot", envFor(w, { FLEET_WAIT_TIMEOUT_SECONDS: "3" }));
        assertFailureMessage(r, /Cluster fleet-system\/mgmt is still provisioning after 3s: Machines without a nodeRef: mgmt-md-0-/, /when it has finished provisioning, run pulumi up -s local/);
        assert.match(r.stderr, /waiting for Cluster fleet-system\/mgmt to finish provisioning before the move/);
        assert.strictEqual(r.log.filter((e) => e.tool === "clusterctl").length, 0);
        checkInvariants(w);
    });

    cell("guard: Flux Kustomizations and HelmReleases on the temporary cluster are suspended before the move", async () => {
        const w = ready();
        w.seed((world) => {
            const srv = world.serverByName(KIND) as ServerState;
            srv.installed.push("flux");
            world.ensureNamespace(srv, "flux-system");
            world.put(srv, { apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "flux-system", namespace: "flux-system" }, spec: { path: "./clusters/local" } });
            world.put(srv, { apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "already", namespace: "flux-system" }, spec: { suspend: true } });
            world.put(srv, { apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", metadata: { name: "cilium", namespace: "flux-system" }, spec: {} });
        });
        const r = await w.run("pivot", envFor(w));
        assert.strictEqual(r.code, 0, r.stderr);
        const src = w.kindServer();
        assert.strictEqual(src.objects["Kustomization.kustomize.toolkit.fluxcd.io"]["flux-system/flux-system"].spec?.suspend, true);
        assert.strictEqual(src.objects["HelmRelease.helm.toolkit.fluxcd.io"]["flux-system/cilium"].spec?.suspend, true);
        assert.strictEqual(invocations(r, "kubectl", "patch", "kustomizations.kustomize.toolkit.fluxcd.io").length, 1, "only the unsuspended one is patched");
        const suspendedAt = r.log.findIndex((e) => e.tool === "kubectl" && e.argv.includes("patch"));
        const movedAt = r.log.findIndex((e) => e.tool === "clusterctl" && e.argv[0] === "move");
        assert.ok(suspendedAt >= 0 && suspendedAt < movedAt, "suspended before the move");
        checkInvariants(w);
    });

    cell("guard: a dry run that does not list the Cluster stops a silent no-op move", async () => {
        const w = ready({ fail: { "clusterctl move --dry-run": [{ exit: 0, stderr: "Performing move...\nDiscovering Cluster API objects\nMoving Cluster API objects Clusters=0\nMoving Cluster API objects ClusterClasses=0" }] } });
        const r = await w.run("pivot", envFor(w));
        assertFailureMessage(r, /clusterctl move --dry-run -n fleet-system does not list Cluster fleet-system\/mgmt: the move would silently move nothing/, /check CLUSTER_NAME\/CLUSTER_NAMESPACE/);
        assert.strictEqual(moveCalls(r).length, 0);
        checkInvariants(w);
    });

    cell("backup: encrypted with age for the recipient, plaintext removed, the .tar.age path printed", async () => {
        const w = ready();
        const r = await w.run("pivot", envFor(w, { FLEET_AGE_RECIPIENT: AGE_RECIPIENT }));
        assert.strictEqual(r.code, 0, r.stderr);
        const out = r.stdout.trim();
        assert.ok(out.endsWith(".tar.age"), out);
        assert.strictEqual((fs.statSync(out).mode & 0o777).toString(8), "600");
        assert.ok(!fs.existsSync(out.replace(/\.tar\.age$/, "")), "plaintext removed");
        const body = fs.readFileSync(out, "utf8").split("\n");
        assert.strictEqual(body[0], "age-encryption.org/v1");
        assert.ok(unb64(body[body.length - 2]).includes(`Cluster_${MGMT_NS}_${MGMT}.yaml`), "the tarball holds the backup");
        assert.strictEqual(invocations(r, "age", "-r", AGE_RECIPIENT).length, 1);
        checkInvariants(w);
    });

    cell("backup: without age installed it says the backup is not encrypted", async () => {
        const w = new TestWorld({ tools: ["kind", "clusterctl", "kubectl", "docker"] });
        seedManagementReady(w, manifests);
        const r = await w.run("pivot", envFor(w, { FLEET_AGE_RECIPIENT: AGE_RECIPIENT }));
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /age is not installed, so the backup is NOT encrypted/);
        assert.ok(fs.statSync(r.stdout.trim()).isDirectory());
        checkInvariants(w);
    });

    cell("after: a Machine rollout on the target during the watch window fails, naming the Machines", async () => {
        const w = ready({ rolloutAfterMove: true });
        const r = await w.run("pivot", envFor(w, { FLEET_ROLLOUT_WATCH_SECONDS: "3" }));
        assertFailureMessage(r, /Machines of fleet-system\/mgmt changed on the permanent cluster after the move \(added: mgmt-md-0-\S+; removed: mgmt-md-0-\S+\)/, /find out why it rolled out/);
        assert.match(r.stderr, /State: the pivot itself is done/);
        checkInvariants(w);
    });

    cell("after: the watch ends once the permanent cluster reports the Cluster Available and not rolling out", async () => {
        const w = ready();
        // 600 s with a poll of 0 would be 600 polls: finishing in a few proves the watch ended early.
        const r = await w.run("pivot", envFor(w, { FLEET_ROLLOUT_WATCH_SECONDS: "600" }));
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /pivot done: no Machine rolled out in \d+s of watching/);
        const watchPolls = invocations(r, "kubectl", "get", "clusters.cluster.x-k8s.io", "jsonpath={range .status.conditions[*]}{.type}{\"=\"}{.status}{\"\\n\"}{end}");
        assert.ok(watchPolls.length >= 2 && watchPolls.length <= 3, `settled after ${watchPolls.length} polls`);
        checkInvariants(w);
    });

    cell("the Cluster on neither cluster (management step never ran): stops, naming it", async () => {
        const w = new TestWorld();
        seedManagementReady(w, renderedManagement({ name: "other", namespace: "elsewhere" }));
        w.seed((world) => {
            const perm = world.serverByName("other") as ServerState;
            perm.name = MGMT;
        });
        const r = await w.run("pivot", envFor(w));
        assertFailureMessage(r, /Cluster fleet-system\/mgmt is on neither cluster: not on the temporary cluster \(kind 'fleet-local'\), and not on the permanent cluster/);
        checkInvariants(w);
    });
});
