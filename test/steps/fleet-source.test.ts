// Fault matrix of fleet-source (the local fleet source: a registry container on the kind network and
// the committed render pushed to it) and fleet-source-delete.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { KIND, TestWorld, assertFailureMessage, cell, checkInvariants, invocations } from "./harness";

const CONTAINER = "fleet-local-source";

function sourceEnv(w: TestWorld): Record<string, string> {
    const dir = path.join(w.root, "checkout", "clusters", "local");
    fs.mkdirSync(path.join(dir, "mgmt"), { recursive: true });
    fs.writeFileSync(path.join(dir, "mgmt", "kustomization.yaml"), "resources: [flux-instance.yaml]\n");
    fs.writeFileSync(path.join(dir, "mgmt", "flux-instance.yaml"), "kind: FluxInstance\n");
    return {
        FLEET_SOURCE_CONTAINER: CONTAINER,
        FLEET_SOURCE_NETWORK: "kind",
        FLEET_SOURCE_IMAGE: "registry:3.0.0",
        FLEET_PUSH_IMAGE: "ghcr.io/fluxcd/flux-cli:v2.9.0",
        FLEET_RENDER_DIR: dir,
        FLEET_ARTIFACT_PATH: "clusters/local",
        FLEET_ARTIFACT: `oci://${CONTAINER}:5000/fleet-local:latest`,
        FLEET_SOURCE_REVISION: "sha256:0123",
    };
}

const registry = (w: TestWorld) => w.state().docker.containers.find((c) => c.name === CONTAINER);

describe("step fleet-source", () => {
    cell("fresh: creates the registry on the kind network, waits until it answers, pushes the render under its sync paths; already done: reuses it and pushes again", async () => {
        const w = new TestWorld();
        w.seed((world) => world.createKindCluster(KIND));
        const env = sourceEnv(w);
        const r = await w.run("fleet-source", env);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stdout, `${env.FLEET_ARTIFACT}\n`);
        const run = invocations(r, "docker", "run", "-d");
        assert.strictEqual(run.length, 1);
        assert.deepStrictEqual(run[0].argv.slice(0, 6), ["run", "-d", "--name", CONTAINER, "--network", "kind"]);
        assert.match(r.stderr, /waiting for the registry in container 'fleet-local-source' to answer on port 5000/);
        assert.strictEqual(registry(w)?.running, true);
        assert.deepStrictEqual(registry(w)?.artifacts?.["fleet-local:latest"]?.files.sort(), ["clusters/local/mgmt/flux-instance.yaml", "clusters/local/mgmt/kustomization.yaml"]);
        assert.strictEqual(registry(w)?.artifacts?.["fleet-local:latest"]?.revision, "local@sha256:0123");
        assert.match(r.stderr, /\[fleet-source\] flux: ✔ artifact successfully pushed to fleet-local-source:5000\/fleet-local@sha256:/);

        const again = await w.run("fleet-source", { ...env, FLEET_SOURCE_REVISION: "sha256:4567" });
        assert.strictEqual(again.code, 0, again.stderr);
        assert.strictEqual(invocations(again, "docker", "run", "-d").length, 0, "the running registry is reused");
        assert.match(again.stderr, /registry container 'fleet-local-source' is running: reusing it/);
        assert.strictEqual(registry(w)?.artifacts?.["fleet-local:latest"]?.revision, "local@sha256:4567", "the new render is served");
        checkInvariants(w);
    });

    cell("interrupted earlier (registry stopped, e.g. Docker restarted): starts it, waits, pushes", async () => {
        const w = new TestWorld({ scenario: { registryStartProbes: 2 } });
        w.seed((world) => world.createKindCluster(KIND));
        const env = sourceEnv(w);
        assert.strictEqual((await w.run("fleet-source", env)).code, 0);
        w.seed((world) => {
            const c = world.st.docker.containers.find((x) => x.name === CONTAINER)!;
            c.running = false;
        });
        const r = await w.run("fleet-source", env);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(invocations(r, "docker", "start").length, 1);
        assert.strictEqual(invocations(r, "docker", "exec").length, 3, "two refused probes, then an answer");
        checkInvariants(w);
    });

    cell("permanent: no kind network yet, or no committed render: nothing created, says what to do", async () => {
        const w = new TestWorld();
        const env = sourceEnv(w);
        const noNetwork = await w.run("fleet-source", env);
        assertFailureMessage(noNetwork, /Docker network 'kind' does not exist: Error response from daemon: network kind not found/);
        assert.strictEqual(registry(w), undefined);
        w.seed((world) => world.createKindCluster(KIND));
        const noRender = await w.run("fleet-source", { ...env, FLEET_RENDER_DIR: path.join(w.root, "nowhere") });
        assertFailureMessage(noRender, /there is no committed render at .*nowhere/, /run npm run render -- local, commit it, then run pulumi up -s local/);
        assert.strictEqual(registry(w), undefined);
        checkInvariants(w);
    });

    cell("transient: the push fails once; the failure says the registry runs and how to resume; the re-run serves the render", async () => {
        const w = new TestWorld({ scenario: { fail: { "docker push artifact": [{ times: 1, stderr: "✗ pushing artifact failed: PUT http://fleet-local-source:5000/v2/fleet-local/blobs/uploads/: unexpected EOF" }] } } });
        w.seed((world) => world.createKindCluster(KIND));
        const env = sourceEnv(w);
        const failed = await w.run("fleet-source", env);
        assertFailureMessage(failed, /pushing oci:\/\/fleet-local-source:5000\/fleet-local:latest failed \(exit 1\): ✗ pushing artifact failed: .*unexpected EOF/);
        assert.match(failed.stderr, /State: registry container 'fleet-local-source' runs/);
        assert.deepStrictEqual(registry(w)?.artifacts, {});
        const r = await w.run("fleet-source", env);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.ok(registry(w)?.artifacts?.["fleet-local:latest"]);
        checkInvariants(w);
    });

    cell("permanent: Docker is down: nothing created, says so", async () => {
        const w = new TestWorld({ scenario: { dockerUnreachable: true } });
        const r = await w.run("fleet-source", sourceEnv(w));
        assertFailureMessage(r, /cannot reach Docker: Cannot connect to the Docker daemon/);
        checkInvariants(w);
    });
});

describe("step fleet-source-delete", () => {
    cell("removes the registry container and its volume; already gone: nothing to do", async () => {
        const w = new TestWorld();
        w.seed((world) => world.createKindCluster(KIND));
        assert.strictEqual((await w.run("fleet-source", sourceEnv(w))).code, 0);
        const r = await w.run("fleet-source-delete", { FLEET_SOURCE_CONTAINER: CONTAINER });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(invocations(r, "docker", "rm")[0].argv, ["rm", "-f", "-v", CONTAINER]);
        assert.strictEqual(registry(w), undefined);
        assert.ok(w.state().kind[KIND], "the kind cluster is not touched");
        const again = await w.run("fleet-source-delete", { FLEET_SOURCE_CONTAINER: CONTAINER });
        assert.strictEqual(again.code, 0, again.stderr);
        assert.match(again.stderr, /does not exist: nothing to remove/);
        checkInvariants(w);
    });

    cell("permanent: Docker is down: refuses with the destroy command to resume", async () => {
        const w = new TestWorld({ scenario: { dockerUnreachable: true } });
        const r = await w.run("fleet-source-delete", { FLEET_SOURCE_CONTAINER: CONTAINER });
        assertFailureMessage(r, /docker inspect fleet-local-source failed: Cannot connect to the Docker daemon/, /pulumi destroy -s local/);
        checkInvariants(w);
    });
});
