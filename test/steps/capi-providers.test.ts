// Fault matrix of capi-providers (on the temporary and on the permanent cluster).
import * as assert from "assert";
import {
    cell,
    FAKE_AWS_CREDENTIALS, FAKE_AWS_SECRET, KIND, MGMT, MGMT_NS, PIN_ENV, TestWorld, assertFailureMessage, checkInvariants,
    invocations, seedManagementReady,
    renderedManagement,
} from "./harness";
import { K8sObj } from "../fakes/world";
import { encodeCapaCredentials } from "../../render/awsCredentials";

const tempEnv = { FLEET_TARGET: "temporary", KIND_CLUSTER_NAME: KIND, ...PIN_ENV };
const INVENTORY = [
    "AddonProvider/helm=v0.6.4",
    "BootstrapProvider/kubeadm=v1.14.0",
    "ControlPlaneProvider/kubeadm=v1.14.0",
    "CoreProvider/cluster-api=v1.14.0",
    "InfrastructureProvider/docker=v1.14.0",
].join("\n") + "\n";

function freshKind(w: TestWorld): void {
    w.seed((world) => world.createKindCluster(KIND));
}

describe("step capi-providers", () => {
    cell("fresh: one clusterctl init with every pin, waits for Deployments, CRDs and webhooks, prints the inventory; already done: no clusterctl init, same inventory", async () => {
        const w = new TestWorld({ scenario: { deploymentReadyTicks: 4, crdEstablishedTicks: 7, webhookDelayTicks: 6 } });
        freshKind(w);
        const r = await w.run("capi-providers", tempEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        const inits = invocations(r, "clusterctl", "init");
        assert.strictEqual(inits.length, 1);
        assert.deepStrictEqual(inits[0].argv.slice(3), [
            "--core", "cluster-api:v1.14.0", "--bootstrap", "kubeadm:v1.14.0", "--control-plane", "kubeadm:v1.14.0",
            "--infrastructure", "docker:v1.14.0", "--addon", "helm:v0.6.4",
        ]);
        assert.strictEqual(r.stdout, INVENTORY);
        assert.match(r.stderr, /waiting for provider Deployments to be Available: 0\/8 available/);
        assert.match(r.stderr, /waiting for the providers' CRDs to be Established: \d+\/\d+; not yet: .*clusters\.cluster\.x-k8s\.io/);
        assert.match(r.stderr, /all \d+ provider CRDs are Established/);
        assert.match(r.stderr, /waiting for the Cluster API webhooks to answer: .*failed calling webhook "default\.cluster\.cluster\.x-k8s\.io"/);
        assert.match(r.stderr, /error when creating "STDIN"/);
        assert.match(r.stderr, /the Cluster API webhooks answer/);
        const second = await w.run("capi-providers", tempEnv);
        assert.strictEqual(second.code, 0, second.stderr);
        assert.strictEqual(invocations(second, "clusterctl", "init").length, 0);
        assert.match(second.stderr, /already installed .*clusterctl init not needed/);
        assert.strictEqual(second.stdout, r.stdout);
        checkInvariants(w);
    });

    cell("interrupted after the core provider was installed (step killed): the re-run passes only the missing flags", async () => {
        const w = new TestWorld({ scenario: { fail: { "clusterctl init": [{ times: 1, crash: "partial", installed: 1, kill: true }] } } });
        freshKind(w);
        const killed = await w.run("capi-providers", tempEnv);
        assert.strictEqual(killed.signal, "SIGKILL");
        const r = await w.run("capi-providers", tempEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        const inits = invocations(r, "clusterctl", "init");
        assert.strictEqual(inits.length, 1);
        assert.ok(!inits[0].argv.includes("--core"), inits[0].argv.join(" "));
        assert.deepStrictEqual(inits[0].argv.slice(3), ["--bootstrap", "kubeadm:v1.14.0", "--control-plane", "kubeadm:v1.14.0", "--infrastructure", "docker:v1.14.0", "--addon", "helm:v0.6.4"]);
        assert.strictEqual(r.stdout, INVENTORY);
        checkInvariants(w);
    });

    cell("interrupted with the core provider gone but kubeadm bootstrap present: opts out of the default with --bootstrap -", async () => {
        const w = new TestWorld();
        w.seed((world) => world.seedProviders(world.createKindCluster(KIND), ["BootstrapProvider/kubeadm:v1.14.0"]));
        const r = await w.run("capi-providers", tempEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        const init = invocations(r, "clusterctl", "init")[0];
        assert.deepStrictEqual(init.argv.slice(3), ["--core", "cluster-api:v1.14.0", "--control-plane", "kubeadm:v1.14.0", "--infrastructure", "docker:v1.14.0", "--addon", "helm:v0.6.4", "--bootstrap", "-"]);
        assert.strictEqual(r.stdout, INVENTORY);
        checkInvariants(w);
    });

    cell("transient: clusterctl init cannot connect once; re-read, retried, installed once", async () => {
        const w = new TestWorld({
            scenario: { fail: { "clusterctl init": [{ times: 1, stderr: 'Error: failed to connect to the management cluster: action failed after 9 attempts: Get "https://127.0.0.1:40001/api?timeout=30s": dial tcp 127.0.0.1:40001: connect: connection refused' }] } },
        });
        freshKind(w);
        const r = await w.run("capi-providers", tempEnv);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(invocations(r, "clusterctl", "init").length, 2);
        assert.match(r.stderr, /clusterctl init failed with a transient error \(attempt 1 of 5\), retrying: Error: failed to connect to the management cluster/);
        assert.strictEqual(r.stdout, INVENTORY);
        checkInvariants(w);
    });

    cell("permanent: a provider at another version is an error naming both versions and the upgrade command; nothing installed", async () => {
        const w = new TestWorld();
        w.seed((world) => world.seedProviders(world.createKindCluster(KIND), ["CoreProvider/cluster-api:v1.13.2", "InfrastructureProvider/docker:v1.15.0"]));
        const r = await w.run("capi-providers", tempEnv);
        assertFailureMessage(r, /CoreProvider 'cluster-api' is v1\.13\.2 on the temporary cluster \(kind 'fleet-local'\) \(namespace capi-system\); CAPI_CORE pins v1\.14\.0/, /upgrade the providers as above/);
        assert.match(r.stderr, /InfrastructureProvider 'docker' is v1\.15\.0 .*newer than v1\.14\.0 pinned by CAPI_INFRASTRUCTURE: clusterctl cannot downgrade/);
        assert.match(r.stderr, /Upgrade them with: clusterctl upgrade apply --core capi-system\/cluster-api:v1\.14\.0 \(kind get kubeconfig --name fleet-local > kind\.kubeconfig/);
        assert.strictEqual(invocations(r, "clusterctl", "init").length, 0);
        checkInvariants(w);
    });

    cell("permanent: clusterctl init failing for good says what is installed and how to resume", async () => {
        const w = new TestWorld({ scenario: { fail: { "clusterctl init": [{ stderr: "Error: failed to get provider components for the \"docker:v1.14.0\" provider: failed to get repository client for the InfrastructureProvider with name docker: error creating the GitHub repository client: failed to get GitHub latest version: rate limit for github api has been reached. Please wait one hour or get a personal API token and assign it to the GITHUB_TOKEN environment variable" }] } } });
        freshKind(w);
        const r = await w.run("capi-providers", tempEnv);
        assertFailureMessage(r, /clusterctl init on the temporary cluster \(kind 'fleet-local'\) failed \(exit 1\) \(GitHub rate limit: set GITHUB_TOKEN\)/, /it installs only what is missing/);
        assert.match(r.stderr, /State: installed now: no providers/);
        checkInvariants(w);
    });

    cell("permanent: the temporary kind cluster vanished (other machine): says so plainly, with the command that recreates it", async () => {
        const w = new TestWorld();
        const urn = "urn:pulumi:local::fleet-bootstrap::fleet:index:Environment$fleet:index:TemporaryCluster$command:local:Command::temporary-kind";
        const r = await w.run("capi-providers", { ...tempEnv, FLEET_TEMPORARY_CLUSTER_URN: urn });
        assertFailureMessage(r, /the temporary kind cluster 'fleet-local' does not exist on this machine \(kind clusters live on the machine that created them/);
        assert.ok(r.stderr.includes(`To resume: pulumi up -s local --replace '${urn}' (recreates the kind cluster on this machine and installs the providers on it again)`), r.stderr);
        checkInvariants(w);
    });

    cell("permanent: an unpinned provider is rejected before anything runs", async () => {
        const w = new TestWorld();
        freshKind(w);
        const r = await w.run("capi-providers", { ...tempEnv, CAPI_INFRASTRUCTURE: "docker" });
        assertFailureMessage(r, /CAPI_INFRASTRUCTURE must pin a provider as name:vX\.Y\.Z .*got 'docker'/, /fix CAPI_INFRASTRUCTURE in the stack configuration/);
        assert.strictEqual(r.log.length, 1, "only kind get kubeconfig ran");
        checkInvariants(w);
    });

    cell("permanent: webhooks that never answer time out with a message", async () => {
        const w = new TestWorld({ scenario: { webhookDelayTicks: 1000 } });
        freshKind(w);
        const r = await w.run("capi-providers", { ...tempEnv, FLEET_WAIT_TIMEOUT_SECONDS: "5" });
        assertFailureMessage(r, /the Cluster API webhooks on the temporary cluster \(kind 'fleet-local'\) do not answer after 5s: Error from server \(InternalError\)/, /check the webhook services and cert-manager/);
        checkInvariants(w);
    });

    describe("on the permanent cluster (CAPA, credentials from the environment)", () => {
        const awsPins = { ...PIN_ENV, CAPI_INFRASTRUCTURE: "aws:v2.11.1" };

        cell("fresh + already done: kubeconfig contents only in a 0600 file, credentials never on a command line or in logs, CAPA on control-plane nodes", async () => {
            const w = new TestWorld();
            seedManagementReady(w, renderedManagement({ name: MGMT, namespace: MGMT_NS }), { permanentProviders: false });
            const env = {
                FLEET_TARGET: "permanent", FLEET_TARGET_KUBECONFIG: w.kubeconfigOf(MGMT), ...awsPins,
                AWS_B64ENCODED_CREDENTIALS: FAKE_AWS_CREDENTIALS, CAPA_CONTROLLERS_ON_CONTROL_PLANE: "true", EXP_MACHINE_POOL: "true",
            };
            const r = await w.run("capi-providers", env);
            assert.strictEqual(r.code, 0, r.stderr);
            const init = invocations(r, "clusterctl", "init")[0];
            assert.ok(init.env.includes("AWS_B64ENCODED_CREDENTIALS") && init.env.includes("EXP_MACHINE_POOL"), "clusterctl got the variables");
            assert.match(r.stdout, /^InfrastructureProvider\/aws=v2\.11\.1$/m);
            const perm = w.serverNamed(MGMT);
            const capa = perm?.objects["Deployment.apps"]["capa-system/capa-controller-manager"] as K8sObj;
            const podSpec = ((capa.spec as { template: { spec: { nodeSelector: Record<string, string>; tolerations: { key: string }[] } } }).template.spec);
            assert.deepStrictEqual(podSpec.nodeSelector, { "node-role.kubernetes.io/control-plane": "" });
            assert.deepStrictEqual(podSpec.tolerations.map((t) => t.key), ["node-role.kubernetes.io/control-plane"]);
            assert.strictEqual(perm?.objects["Secret"]["capa-system/capa-manager-bootstrap-credentials"].data?.credentials, FAKE_AWS_CREDENTIALS);
            const again = await w.run("capi-providers", env);
            assert.strictEqual(again.code, 0, again.stderr);
            assert.strictEqual(invocations(again, "clusterctl", "init").length, 0);
            assert.strictEqual(invocations(again, "kubectl", "patch").length, 0);
            assert.match(again.stderr, /capa-controller-manager already runs on control-plane nodes/);
            checkInvariants(w, { secrets: [FAKE_AWS_SECRET, FAKE_AWS_CREDENTIALS] });
        });

        cell("temporary, credentials from the caller's environment: the same profile clusterawsadm encodes, never on a command line", async () => {
            const w = new TestWorld();
            freshKind(w);
            const caller = { AWS_ACCESS_KEY_ID: "AKIAFAKEFAKEFAKE9999", AWS_SECRET_ACCESS_KEY: FAKE_AWS_SECRET, AWS_SESSION_TOKEN: "FAKE-SESSION-TOKEN-42", AWS_REGION: "eu-west-1" };
            const r = await w.run("capi-providers", { ...tempEnv, ...awsPins, FLEET_AWS_CREDENTIALS_FROM_ENVIRONMENT: "true", ...caller });
            assert.strictEqual(r.code, 0, r.stderr);
            const expected = encodeCapaCredentials({ accessKeyId: caller.AWS_ACCESS_KEY_ID, secretAccessKey: caller.AWS_SECRET_ACCESS_KEY, sessionToken: caller.AWS_SESSION_TOKEN }, "eu-west-1");
            const kind = w.serverNamed(KIND);
            assert.strictEqual(kind?.objects["Secret"]["capa-system/capa-manager-bootstrap-credentials"].data?.credentials, expected);
            checkInvariants(w, { secrets: [FAKE_AWS_SECRET, "FAKE-SESSION-TOKEN-42", expected] });
        });

        cell("temporary, credentials from the environment but none there: says which variable is missing and what to do", async () => {
            const w = new TestWorld();
            freshKind(w);
            const r = await w.run("capi-providers", { ...tempEnv, ...awsPins, FLEET_AWS_CREDENTIALS_FROM_ENVIRONMENT: "true", AWS_REGION: "eu-west-1" });
            assertFailureMessage(r, /awsCredentialsFromEnvironment is set, but AWS_ACCESS_KEY_ID is not in the environment of pulumi up/, /awsCredentialsFromEnvironment: false/);
            assert.strictEqual(invocations(r, "clusterctl", "init").length, 0);
            checkInvariants(w);
        });

        cell("permanent: the AWS variable missing is clusterctl's own error, reported with the resume command", async () => {
            const w = new TestWorld();
            seedManagementReady(w, renderedManagement({ name: MGMT, namespace: MGMT_NS }), { permanentProviders: false });
            const r = await w.run("capi-providers", { FLEET_TARGET: "permanent", FLEET_TARGET_KUBECONFIG: w.kubeconfigOf(MGMT), ...awsPins });
            assertFailureMessage(r, /Error: value for variables \[AWS_B64ENCODED_CREDENTIALS\] is not set/);
            checkInvariants(w);
        });
    });
});
