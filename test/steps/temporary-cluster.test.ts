// Fault matrices of temporary-cluster-create and temporary-cluster-delete.
import * as assert from "assert";
import {
    cell,
    KIND, MGMT, MGMT_NS, TestWorld, assertFailureMessage, checkInvariants, invocations, seedManagementReady, seedTemporaryWithProviders,
    renderedManagement,
} from "./harness";

const KIND_CONFIG = [
    "kind: Cluster",
    "apiVersion: kind.x-k8s.io/v1alpha4",
    "nodes:",
    "- role: control-plane",
    "  extraMounts:",
    "  - hostPath: /var/run/docker.sock",
    "    containerPath: /var/run/docker.sock",
    "",
].join("\n");
const createEnv = { KIND_CLUSTER_NAME: KIND, KIND_NODE_IMAGE: "kindest/node:v1.33.1@sha256:0123", KIND_CONFIG };
const deleteEnv = { KIND_CLUSTER_NAME: KIND };

describe("step temporary-cluster-create", () => {
    cell("fresh: creates the kind cluster with --config/--kubeconfig files under the state dir and prints its kubeconfig; already done: the re-run adopts it", async () => {
        const w = new TestWorld();
        const r = await w.run("temporary-cluster-create", createEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        const create = invocations(r, "kind", "create", "cluster");
        assert.strictEqual(create.length, 1);
        assert.deepStrictEqual(create[0].argv.slice(0, 6), ["create", "cluster", "--name", KIND, "--image", createEnv.KIND_NODE_IMAGE]);
        assert.ok(create[0].argv.includes("--wait") && create[0].argv.includes("5m"));
        assert.deepStrictEqual(create[0].files.map((f) => f.flag).sort(), ["--config", "--kubeconfig"]);
        assert.strictEqual(create[0].files.find((f) => f.flag === "--config")?.mode, "0600");
        assert.strictEqual(r.stdout.trim(), w.kubeconfigOf(KIND).trim());
        assert.match(r.stderr, /\[temporary-cluster-create\] kind: Creating cluster "fleet-local" \.\.\./);
        assert.deepStrictEqual(Object.keys(w.state().kind), [KIND]);
        const second = await w.run("temporary-cluster-create", createEnv);
        assert.strictEqual(second.code, 0, second.stderr);
        assert.strictEqual(invocations(second, "kind", "create").length, 0);
        assert.match(second.stderr, /already exists: adopting it/);
        assert.strictEqual(second.stdout, r.stdout);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("interrupted after kind created the cluster (step killed): the re-run adopts it", async () => {
        const w = new TestWorld({ scenario: { fail: { "kind create cluster": [{ times: 1, crash: "after-create", kill: true }] } } });
        const killed = await w.run("temporary-cluster-create", createEnv);
        assert.strictEqual(killed.signal, "SIGKILL");
        checkInvariants(w, { stdoutMayHoldSecrets: true, lastRunKilled: true });
        const r = await w.run("temporary-cluster-create", createEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(invocations(r, "kind", "create").length, 0);
        assert.strictEqual(w.state().history.filter((h) => h.event === "kind-create").length, 1);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("transient: a known transient create error deletes the half-created cluster and retries once", async () => {
        const w = new TestWorld({
            scenario: {
                fail: {
                    "kind create cluster": [{
                        times: 1, crash: "half-created",
                        stderr: 'ERROR: failed to create cluster: failed to init node with kubeadm: command "docker exec --privileged fleet-local-control-plane kubeadm init --skip-phases=preflight --config=/kind/kubeadm.conf --skip-token-print --v=6" failed with error: exit status 1',
                    }],
                },
            },
        });
        const r = await w.run("temporary-cluster-create", createEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(invocations(r, "kind", "create", "cluster").length, 2);
        assert.strictEqual(invocations(r, "kind", "delete", "cluster").length, 1);
        assert.match(r.stderr, /known transient error: ERROR: failed to create cluster: failed to init node with kubeadm/);
        assert.strictEqual(w.state().history.filter((h) => h.event === "kind-create").length, 2);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("permanent: a non-transient create error leaves no half-created cluster and says how to resume", async () => {
        const w = new TestWorld({
            scenario: { fail: { "kind create cluster": [{ crash: "half-created", stderr: 'ERROR: failed to create cluster: command "docker run --name fleet-local-control-plane ..." failed with error: exit status 125\nCommand Output: docker: Error response from daemon: driver failed programming external connectivity: Bind for 127.0.0.1:6443 failed: port is already allocated.' }] } },
        });
        const r = await w.run("temporary-cluster-create", createEnv);
        assertFailureMessage(r, /kind create cluster --name fleet-local failed \(exit 1\): .*port is already allocated/, /fix the cause above, then run pulumi up -s local/);
        assert.match(r.stderr, /State: no kind cluster named 'fleet-local' exists/);
        assert.deepStrictEqual(Object.keys(w.state().kind), []);
        assert.strictEqual(r.stdout, "");
        checkInvariants(w);
    });

    cell("permanent: an adopted cluster whose API server does not answer is reported, not silently used", async () => {
        const w = new TestWorld();
        w.seed((world) => { world.createKindCluster(KIND).reachable = false; });
        const r = await w.run("temporary-cluster-create", createEnv);
        assertFailureMessage(r, /kind cluster 'fleet-local' exists but its API server does not answer: The connection to the server 127\.0\.0\.1:\d+ was refused/, /docker start fleet-local-control-plane/);
        checkInvariants(w);
    });

    cell("permanent: Docker down is reported once, nothing created", async () => {
        const w = new TestWorld({ scenario: { dockerUnreachable: true } });
        const r = await w.run("temporary-cluster-create", createEnv);
        assertFailureMessage(r, /cannot list kind clusters: .*Cannot connect to the Docker daemon/, /make sure Docker is running, then run pulumi up -s local/);
        checkInvariants(w);
    });
});

describe("step temporary-cluster-delete", () => {
    cell("fresh: deletes an empty temporary cluster (explicit --kubeconfig, ~/.kube untouched)", async () => {
        const w = new TestWorld();
        seedTemporaryWithProviders(w);
        const r = await w.run("temporary-cluster-delete", deleteEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        const del = invocations(r, "kind", "delete", "cluster");
        assert.strictEqual(del.length, 1);
        assert.ok(del[0].argv.includes("--kubeconfig"));
        assert.deepStrictEqual(Object.keys(w.state().kind), []);
        assert.strictEqual(r.stdout, "");
        checkInvariants(w);
    });

    cell("already done: the cluster is gone, the step says so and exits 0 without kind delete", async () => {
        const w = new TestWorld();
        const r = await w.run("temporary-cluster-delete", deleteEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /kind cluster 'fleet-local' does not exist: nothing to delete/);
        assert.strictEqual(invocations(r, "kind", "delete").length, 0);
        checkInvariants(w);
    });

    cell("no Cluster API CRDs at all counts as no Clusters", async () => {
        const w = new TestWorld();
        w.seed((world) => world.createKindCluster(KIND));
        const r = await w.run("temporary-cluster-delete", deleteEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /has no Cluster API CRDs: it holds no Clusters/);
        assert.deepStrictEqual(Object.keys(w.state().kind), []);
        checkInvariants(w);
    });

    cell("interlock: refuses while the cluster holds a Cluster (pivot not verified), naming it; nothing deleted", async () => {
        const w = new TestWorld();
        seedManagementReady(w, renderedManagement({ name: MGMT, namespace: MGMT_NS }));
        const r = await w.run("temporary-cluster-delete", deleteEnv);
        assertFailureMessage(r, /refusing to delete kind cluster 'fleet-local': it still holds Cluster API Cluster\(s\) fleet-system\/mgmt\.\n\[temporary-cluster-delete\] The pivot is not verified/, /clusterctl move --kubeconfig kind\.kubeconfig --to-kubeconfig <permanent kubeconfig> -n <namespace>/);
        assert.strictEqual(invocations(r, "kind", "delete").length, 0);
        assert.deepStrictEqual(Object.keys(w.state().kind), [KIND]);
        checkInvariants(w);
    });

    cell("transient: a refused connection is retried, then the interlock check and delete proceed", async () => {
        const w = new TestWorld({ scenario: { fail: { "kubectl get clusters.cluster.x-k8s.io": [{ times: 2, stderr: "The connection to the server 127.0.0.1:40001 was refused - did you specify the right host or port?" }] } } });
        seedTemporaryWithProviders(w);
        const r = await w.run("temporary-cluster-delete", deleteEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(invocations(r, "kubectl", "get", "clusters.cluster.x-k8s.io").length, 3);
        assert.match(r.stderr, /transient error \(attempt 1 of 5\), retrying/);
        checkInvariants(w);
    });

    cell("permanent: an API server that never answers means it cannot verify: refuses, cluster kept", async () => {
        const w = new TestWorld({ scenario: { unreachable: [KIND] } });
        seedManagementReady(w, renderedManagement({ name: MGMT, namespace: MGMT_NS }));
        const r = await w.run("temporary-cluster-delete", deleteEnv);
        assertFailureMessage(r, /cannot check whether kind cluster 'fleet-local' still holds Cluster API Clusters/, /make its API server answer .* and run pulumi destroy -s local/);
        assert.deepStrictEqual(Object.keys(w.state().kind), [KIND]);
        checkInvariants(w);
    });

    cell("interrupted while kind deleted the nodes (step killed): the re-run finishes, trusting its own earlier verification", async () => {
        const w = new TestWorld({ scenario: { fail: { "kind delete cluster": [{ times: 1, crash: "partial", kill: true }] } } });
        seedTemporaryWithProviders(w);
        const killed = await w.run("temporary-cluster-delete", deleteEnv);
        assert.strictEqual(killed.signal, "SIGKILL");
        const r = await w.run("temporary-cluster-delete", deleteEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /an interrupted earlier run verified it held no Clusters: deleting it/);
        assert.deepStrictEqual(Object.keys(w.state().kind), []);
        checkInvariants(w);
    });
});
