// Fault matrix of the preflight step (stateless: it reads versions, changes nothing).
import * as assert from "assert";
import {
    cell, TestWorld, checkInvariants, assertFailureMessage, invocations } from "./harness";

const REQUIRED = "kind:0.29.0 clusterctl:1.14.0 kubectl:1.31.0 docker:24.0.0";
const env = { FLEET_REQUIRED_TOOLS: REQUIRED, FLEET_OPTIONAL_TOOLS: "age:1.1.0" };

describe("step preflight", () => {
    cell("fresh: reads every tool's real version output and prints name=version lines; already done: a re-run gives the same output, changes nothing", async () => {
        const w = new TestWorld();
        const r = await w.run("preflight", env);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stdout, "kind=0.29.0\nclusterctl=1.14.0\nkubectl=1.33.1\ndocker=28.1.1\nage=1.2.1\n");
        assert.deepStrictEqual(
            r.log.map((e) => [e.tool, ...e.argv].join(" ").replace(/--kubeconfig \S+/, "--kubeconfig <empty>")),
            [
                "kind version",
                "clusterctl version -o short",
                "kubectl version --client --kubeconfig <empty>",
                "docker version --format {{.Server.Version}}",
                "age --version",
            ],
        );
        const stateBefore = JSON.stringify(w.state());
        const second = await w.run("preflight", env);
        assert.strictEqual(second.code, 0);
        assert.strictEqual(second.stdout, r.stdout);
        assert.strictEqual(JSON.stringify(w.state()), stateBefore);
        checkInvariants(w);
    });

    cell("interrupted: nothing to resume; a run after a killed run succeeds and cleans the killed run's temp dir", async () => {
        const w = new TestWorld({ scenario: { fail: { "kubectl version": [{ times: 1, crash: "kill" }] } } });
        const killed = await w.run("preflight", env);
        assert.strictEqual(killed.signal, "SIGKILL");
        const r = await w.run("preflight", env);
        assert.strictEqual(r.code, 0, r.stderr);
        checkInvariants(w);
    });

    cell("transient: Docker not reachable fails with how to fix it; once Docker is up the re-run passes", async () => {
        const w = new TestWorld({ scenario: { dockerUnreachable: true } });
        const r = await w.run("preflight", env);
        assertFailureMessage(r, /docker: Docker is not reachable: Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker.sock/, /fix the tools listed above, then run pulumi up -s local/);
        assert.strictEqual(r.stdout, "");
        w.scenario({});
        const again = await w.run("preflight", env);
        assert.strictEqual(again.code, 0, again.stderr);
        checkInvariants(w);
    });

    cell("permanent: ONE message lists every missing, too old and unreachable tool with how to install it", async () => {
        const w = new TestWorld({ tools: ["clusterctl", "kubectl", "docker"], scenario: { versions: { clusterctl: "1.9.3" }, dockerUnreachable: true } });
        const r = await w.run("preflight", env);
        assertFailureMessage(r, /preflight found 3 problem\(s\)/, /fix the tools listed above/);
        assert.match(r.stderr, /- kind: not found on PATH \(need >= 0\.29\.0\); install kind: https:\/\/kind\.sigs\.k8s\.io/);
        assert.match(r.stderr, /- clusterctl: version 1\.9\.3 is older than the required 1\.14\.0; install clusterctl: https:\/\/cluster-api\.sigs\.k8s\.io/);
        assert.match(r.stderr, /- docker: Docker is not reachable/);
        assert.match(r.stderr, /note: optional age \(>= 1\.1\.0\) is not installed/);
        assert.strictEqual(r.stderr.match(/ERROR:/g)?.length, 1, "one message");
        assert.strictEqual(r.stdout, "");
        checkInvariants(w);
    });

    cell("optional tools: missing is a note, too old is a problem", async () => {
        const w = new TestWorld({ tools: ["kind", "clusterctl", "kubectl", "docker"] });
        const r = await w.run("preflight", env);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /age=/);
        const old = new TestWorld({ scenario: { versions: { age: "1.0.0" } } });
        const r2 = await old.run("preflight", env);
        assertFailureMessage(r2, /- age: version 1\.0\.0 is older than the required 1\.1\.0/, /fix the tools/);
        assert.strictEqual(invocations(r2, "age", "--version").length, 1);
        checkInvariants(w);
        checkInvariants(old);
    });

    cell("rejects a malformed tool list with a message naming the variable", async () => {
        const w = new TestWorld();
        const r = await w.run("preflight", { FLEET_REQUIRED_TOOLS: "kind kubectl:1.31.0" });
        assertFailureMessage(r, /'kind' in FLEET_REQUIRED_TOOLS is not name:minVersion/, /fix the tools/);
        checkInvariants(w);
    });
});
