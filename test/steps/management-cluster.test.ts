// Fault matrix of management-cluster.
import * as assert from "assert";
import {
    cell,
    DOCKER_PINS, KIND, MGMT, MGMT_NS, TestWorld, assertFailureMessage, checkInvariants, invocations, seedManagementReady,
    seedTemporaryWithProviders,
    renderedManagement,
} from "./harness";
import { ServerState } from "../fakes/world";

const manifests = renderedManagement({ name: MGMT, namespace: MGMT_NS, provider: "docker", workers: 2 });
const env = { KIND_CLUSTER_NAME: KIND, CLUSTER_NAME: MGMT, CLUSTER_NAMESPACE: MGMT_NS, FLEET_PROVIDER: "docker" };
const run = (w: TestWorld, extra: Record<string, string> = {}) => w.run("management-cluster", { ...env, ...extra }, { stdin: manifests });

function created(w: TestWorld): number {
    return w.state().managementClustersCreated[MGMT] ?? 0;
}

describe("step management-cluster", () => {
    cell("fresh: server-side apply, progress while provisioning, prints the kubeconfig from <name>-kubeconfig; already done: re-applies harmlessly, same kubeconfig, no second cluster", async () => {
        const w = new TestWorld();
        seedTemporaryWithProviders(w);
        const r = await run(w);
        assert.strictEqual(r.code, 0, r.stderr);
        const apply = invocations(r, "kubectl", "apply");
        assert.strictEqual(apply.length, 1);
        assert.ok(apply[0].argv.includes("--server-side") && apply[0].argv.includes("--field-manager=fleet-bootstrap"), apply[0].argv.join(" "));
        assert.strictEqual(apply[0].stdinBytes, Buffer.byteLength(manifests));
        assert.strictEqual(r.stdout.trim(), w.kubeconfigOf(MGMT).trim());
        assert.match(r.stderr, /waiting for management cluster fleet-system\/mgmt: infrastructure provisioned: true, ControlPlaneInitialized=False, ControlPlaneAvailable=False, WorkersAvailable=False/);
        assert.match(r.stderr, /Machines with a node: 1\/3/);
        assert.match(r.stderr, /management cluster fleet-system\/mgmt is ready: infrastructure provisioned: true, ControlPlaneInitialized=True, ControlPlaneAvailable=True, WorkersAvailable=True, Machines with a node: 3\/3/);
        const cluster = w.kindServer().objects["Cluster.cluster.x-k8s.io"][`${MGMT_NS}/${MGMT}`];
        assert.strictEqual(cluster.metadata.managedFields?.[0].manager, "fleet-bootstrap");
        assert.strictEqual(created(w), 1);
        const second = await run(w, { PULUMI_COMMAND_STDOUT: r.stdout });
        assert.strictEqual(second.code, 0, second.stderr);
        assert.match(second.stderr, /already on the temporary cluster: re-applying/);
        assert.strictEqual(second.stdout, r.stdout);
        assert.strictEqual(created(w), 1);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("already pivoted: applies nothing, says changes go through Git, prints the kubeconfig from the permanent cluster's own Secret", async () => {
        const w = new TestWorld();
        seedManagementReady(w, manifests);
        w.seed((world) => world.seedPivot(world.serverByName(KIND) as ServerState, MGMT_NS, DOCKER_PINS));
        const previous = w.kubeconfigOf(MGMT);
        const r = await run(w, { PULUMI_COMMAND_STDOUT: previous });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(invocations(r, "kubectl", "apply").length, 0);
        assert.match(r.stderr, /has been pivoted .* changes to the management cluster now go through Git \(npm run render -- local/s);
        assert.strictEqual(r.stdout.trim(), previous.trim());
        assert.strictEqual(created(w), 1);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("interrupted while waiting (step killed): the re-run applies again and converges, no second cluster", async () => {
        const w = new TestWorld({ scenario: { fail: { "kubectl get machines.cluster.x-k8s.io": [{ skip: 1, times: 1, crash: "kill" }] } } });
        seedTemporaryWithProviders(w);
        const killed = await run(w);
        assert.strictEqual(killed.signal, "SIGKILL");
        const r = await run(w);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stdout.trim(), w.kubeconfigOf(MGMT).trim());
        assert.strictEqual(created(w), 1);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("transient: the webhooks refuse the apply twice, then it goes through", async () => {
        const hook = 'Error from server (InternalError): error when applying "STDIN": Internal error occurred: failed calling webhook "default.cluster.cluster.x-k8s.io": failed to call webhook: Post "https://capi-webhook-service.capi-system.svc:443/mutate-cluster-x-k8s-io-v1beta2-cluster?timeout=10s": dial tcp 10.96.143.21:443: connect: connection refused';
        const w = new TestWorld({ scenario: { fail: { "kubectl apply": [{ times: 2, stderr: hook }] } } });
        seedTemporaryWithProviders(w);
        const r = await run(w);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(invocations(r, "kubectl", "apply").length, 3);
        assert.match(r.stderr, /kubectl apply: not accepted yet \(attempt 2 of 5\), retrying: .*failed calling webhook/);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("permanent: a cluster that never becomes ready times out naming the false conditions and their last message; the re-run after the fix converges", async () => {
        const w = new TestWorld({ scenario: { clusters: { [MGMT]: { stallAt: "ControlPlaneAvailable", message: "* Machine mgmt-control-plane-x: etcd member unhealthy" } } } });
        seedTemporaryWithProviders(w);
        const r = await run(w, { FLEET_WAIT_TIMEOUT_SECONDS: "4" });
        assertFailureMessage(r, /management cluster fleet-system\/mgmt is not ready after 4s\. Still not satisfied:/, /clusterctl describe cluster mgmt -n fleet-system --show-conditions all/);
        assert.match(r.stderr, /- ControlPlaneAvailable=False \(\* Machine mgmt-control-plane-x: etcd member unhealthy\)/);
        assert.match(r.stderr, /- WorkersAvailable=False/);
        assert.match(r.stderr, /- Machines without a nodeRef: mgmt-md-0-/);
        assert.strictEqual(r.stdout, "");
        w.scenario({});
        const again = await run(w);
        assert.strictEqual(again.code, 0, again.stderr);
        assert.strictEqual(created(w), 1);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("permanent: an unknown FLEET_WAIT_CLOCK is refused before anything is applied, naming the key, the value and what is expected", async () => {
        const w = new TestWorld();
        seedTemporaryWithProviders(w);
        const r = await run(w, { FLEET_WAIT_CLOCK: "wall" });
        assertFailureMessage(r, /FLEET_WAIT_CLOCK must be 'real' or 'polls', got 'wall'/, /fix FLEET_WAIT_CLOCK in the step environment/);
        assert.strictEqual(r.log.length, 0, "nothing ran");
        assert.strictEqual(created(w), 0);
        checkInvariants(w);
    });

    cell("permanent: Docker containers of a cluster with that name exist, unmanaged: refuses naming them, applies nothing", async () => {
        const w = new TestWorld();
        seedTemporaryWithProviders(w);
        w.seed((world) => {
            world.addContainer("mgmt-lb", { "io.x-k8s.kind.cluster": MGMT }, "kindest/haproxy:v20230606-42a2262b");
            world.addContainer("mgmt-mgmt-control-plane-abcde", { "io.x-k8s.kind.cluster": MGMT }, "kindest/node:v1.33.1");
        });
        const r = await run(w);
        assertFailureMessage(r, /refusing to create management cluster 'mgmt': Docker containers of a cluster with that name already exist \(mgmt-lb, mgmt-mgmt-control-plane-abcde\)/, /docker rm -f/);
        assert.strictEqual(invocations(r, "kubectl", "apply").length, 0);
        assert.strictEqual(created(w), 0);
        checkInvariants(w);
    });

    cell("permanent: the previous permanent cluster does not answer: cannot tell if pivoted, so nothing is created", async () => {
        const w = new TestWorld();
        seedManagementReady(w, manifests);
        w.seed((world) => world.seedPivot(world.serverByName(KIND) as ServerState, MGMT_NS, DOCKER_PINS));
        w.scenario({ unreachable: [MGMT] });
        const r = await run(w, { PULUMI_COMMAND_STDOUT: w.kubeconfigOf(MGMT) });
        assertFailureMessage(r, /previous permanent cluster does not answer .*never a second management cluster/);
        assert.strictEqual(invocations(r, "kubectl", "apply").length, 0);
        checkInvariants(w);
    });

    cell("permanent: objects lost with a recreated temporary cluster (permanent answers without the Cluster): refused", async () => {
        const w = new TestWorld();
        seedManagementReady(w, manifests);
        const previous = w.kubeconfigOf(MGMT);
        w.seed((world) => {
            world.deleteKindCluster(KIND, "kind-vanished");
            world.seedProviders(world.createKindCluster(KIND), DOCKER_PINS);
        });
        const r = await run(w, { PULUMI_COMMAND_STDOUT: previous });
        assertFailureMessage(r, /holds no Cluster fleet-system\/mgmt, and the temporary cluster does not hold it either/, /clusterctl move --from-directory/);
        assert.strictEqual(invocations(r, "kubectl", "apply").length, 0);
        assert.strictEqual(created(w), 1);
        checkInvariants(w);
    });

    cell("permanent: the temporary cluster is gone and nothing was pivoted: says so plainly", async () => {
        const w = new TestWorld();
        const r = await run(w);
        assertFailureMessage(r, /the temporary kind cluster 'fleet-local' does not exist on this machine.*no pivoted management cluster/, /--replace <URN of the temporary cluster.s kind resource>/);
        checkInvariants(w);
    });

    cell("permanent: no Cluster API CRDs on the temporary cluster: the apply error points at the providers step", async () => {
        const w = new TestWorld();
        w.seed((world) => world.createKindCluster(KIND));
        const r = await run(w);
        assertFailureMessage(r, /the Cluster API CRDs are missing on the temporary cluster: the capi-providers step installs them\): error: resource mapping not found for name: "[\w-]+" namespace: "fleet-system" from "STDIN": no matches for kind "\w+" in version "[\w.-]+\/\w+"/);
        checkInvariants(w);
    });

    cell("destroyed then up, cluster exists (aws): this environment's cluster runs in AWS unrecorded; refused with the commands that adopt it, nothing applied; an interrupted first up (the Cluster on kind) goes on", async () => {
        const awsEnv = { ...env, FLEET_PROVIDER: "aws", FLEET_UNRECORDED_CLUSTER_VPCS: "vpc-0abc1234" };
        const awsPins = DOCKER_PINS.map((p) => p.replace("InfrastructureProvider/docker:v1.14.0", "InfrastructureProvider/aws:v2.11.1"));
        const awsManifests = renderedManagement({ name: MGMT, namespace: MGMT_NS, provider: "aws" });
        const w = new TestWorld();
        seedTemporaryWithProviders(w, awsPins);
        const r = await w.run("management-cluster", awsEnv, { stdin: awsManifests });
        assertFailureMessage(
            r,
            /refusing to create management cluster 'mgmt': this environment's cluster of that name already runs in AWS \(VPC vpc-0abc1234 carries its tags\), but this stack has no record of it/,
            /adopt it: write its kubeconfig to \S+\/mgmt\.kubeconfig .*pulumi config set -s local fleet-bootstrap:adoptExistingManagementCluster \S+\/mgmt\.kubeconfig; pulumi up -s local/,
        );
        assert.strictEqual(invocations(r, "kubectl", "apply").length, 0);
        assert.strictEqual(created(w), 0);

        const resumed = new TestWorld();
        seedTemporaryWithProviders(resumed, awsPins);
        resumed.seed((world) => world.seedApply(world.serverByName(KIND) as ServerState, awsManifests));
        const again = await resumed.run("management-cluster", awsEnv, { stdin: awsManifests });
        assert.strictEqual(again.code, 0, again.stderr);
        assert.match(again.stderr, /already on the temporary cluster: re-applying/);
        assert.strictEqual(resumed.state().managementClustersCreated[MGMT], 1);
        checkInvariants(w);
        checkInvariants(resumed, { stdoutMayHoldSecrets: true });
    });
});
