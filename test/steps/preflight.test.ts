// Fault matrix of the preflight step (stateless: it reads versions, changes nothing).
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stepScript } from "../../render/steps";
import { runSync } from "../support/bounds";
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
                "kubectl version --client -o json --kubeconfig <empty>",
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

// Each tool's version output exactly as its source prints it (looked up upstream; confirmed with the
// clusterctl v1.14.2, kubectl and pulumi the engine tools build): kind pkg/cmd/kind/version
// DisplayVersion, clusterctl cmd/version.go (`-o short`: GitVersion and a newline, empty without the -X
// flags), kubectl pkg/cmd/version (json.MarshalIndent of clientVersion + kustomizeVersion), docker
// cli/command/system/version.go (the template's output), age cmd/age (Version), pulumi `version`.
const kubectlJson = (gitVersion: string, major = "1", minor = "33") =>
    JSON.stringify({ clientVersion: { major, minor, gitVersion, gitCommit: "8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828", gitTreeState: "clean", buildDate: "2025-05-15T08:27:33Z", goVersion: "go1.24.2", compiler: "gc", platform: "linux/amd64" }, kustomizeVersion: "v5.6.0" }, null, 2);
const realOutputs: Record<string, { args: string; stdout: string }> = {
    kind: { args: "version", stdout: "kind v0.29.0 go1.24.2 linux/amd64\n" },
    clusterctl: { args: "version -o short", stdout: "v1.14.2\n" },
    kubectl: { args: "version --client -o json --kubeconfig *", stdout: `${kubectlJson("v1.33.1")}\n` },
    docker: { args: "version --format {{.Server.Version}}", stdout: "28.1.1\n" },
    age: { args: "--version", stdout: "v1.2.1\n" },
    pulumi: { args: "version", stdout: "v3.248.0\n" },
};

function preflightWith(outputs: Record<string, { args: string; stdout: string }>, required: string) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "preflight-real-"));
    try {
        fs.mkdirSync(path.join(tmp, "bin"));
        for (const [tool, { args, stdout }] of Object.entries(outputs)) {
            const file = path.join(tmp, "bin", `${tool}.out`);
            fs.writeFileSync(file, stdout);
            // `args` as a glob: "*" stands for the generated kubeconfig path.
            fs.writeFileSync(path.join(tmp, "bin", tool), `#!/bin/bash\nexpected=${JSON.stringify(args)}\nif [[ "$*" == $expected ]]; then cat ${JSON.stringify(file)}; else echo "unexpected: $*" >&2; exit 2; fi\n`, { mode: 0o755 });
        }
        return runSync("the preflight step", "/bin/bash", ["-c", stepScript("preflight")], {
            env: { PATH: `${path.join(tmp, "bin")}:/usr/bin:/bin`, HOME: tmp, FLEET_ENV: "local", FLEET_STEP: "preflight", FLEET_STATE_DIR: path.join(tmp, "state"), FLEET_REQUIRED_TOOLS: required, FLEET_OPTIONAL_TOOLS: "age:1.1.0" },
        });
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

describe("step preflight, against each tool's real version output", () => {
    const required = "kind:0.29.0 clusterctl:1.14.0 kubectl:1.31.0 docker:24.0.0 pulumi:3.248.0";

    it("reads kind, clusterctl (a release or a build with the release's flags), kubectl's JSON, docker, age and pulumi", () => {
        const r = preflightWith(realOutputs, required);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(r.stdout, "kind=0.29.0\nclusterctl=1.14.2\nkubectl=1.33.1\ndocker=28.1.1\npulumi=3.248.0\nage=1.2.1\n");
    });

    it("reads kubectl's own gitVersion, not another version in its JSON", () => {
        const old = { ...realOutputs, kubectl: { ...realOutputs.kubectl, stdout: `${kubectlJson("v1.30.2", "1", "30")}\n` } };
        const r = preflightWith(old, required);
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /- kubectl: version 1\.30\.2 is older than the required 1\.31\.0/);
    });

    it("names a clusterctl or kubectl built from source without the release's version flags", () => {
        const bare = {
            ...realOutputs,
            clusterctl: { ...realOutputs.clusterctl, stdout: "\n" },
            kubectl: { ...realOutputs.kubectl, stdout: `${kubectlJson("v0.0.0-master+$Format:%H$", "", "")}\n` },
        };
        const r = preflightWith(bare, required);
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /- clusterctl: `clusterctl version -o short` printed nothing: this clusterctl was built from source without the release's -X sigs\.k8s\.io\/cluster-api\/version\.\* flags; install the release \(scripts\/install-clis\.sh builds it with them\)/);
        assert.match(r.stderr, /- kubectl: reports version 0\.0\.0, a build without the release's version flags; install kubectl/);
    });
});
