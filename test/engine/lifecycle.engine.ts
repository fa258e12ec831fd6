// The real Pulumi engine (CLI, Node.js language host, command and kubernetes providers, built by
// scripts/engine-tools.sh) running this program's `local` stack on a file backend.
import * as assert from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { engineToolsBinDir, PulumiWorkspace, REPO } from "./workspace";

interface PreviewStep {
    op: string;
    urn: string;
    type?: string;
    newState?: { type: string };
}

function previewSteps(stdout: string): PreviewStep[] {
    return (JSON.parse(stdout) as { steps: PreviewStep[] }).steps;
}

const typeOf = (step: PreviewStep) => step.newState?.type ?? step.type ?? step.urn.split("::")[2].split("$").pop();

describe("the real engine on the local stack", function () {
    let workDir: string;
    let pulumi: PulumiWorkspace;
    let fakeLog: string;

    before(async function () {
        const binDir = engineToolsBinDir();
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-engine-"));
        fakeLog = path.join(workDir, "fake-calls.jsonl");
        pulumi = new PulumiWorkspace({
            workDir,
            binDir,
            stack: "local",
            // The fake Docker-side tools record every call: preview must make none.
            pathFirst: [path.join(REPO, "test", "fakes", "bin")],
            env: { FAKE_STATE: path.join(workDir, "fake-state.json"), FAKE_LOG: fakeLog },
        });
        const version = await pulumi.ok(["version"]);
        console.log(`      pulumi ${version.stdout.trim()} from ${binDir}`);
        await pulumi.ok(["stack", "init"]);
    });

    after(function () {
        if (workDir && process.env.FLEET_KEEP_TEST_WORLDS !== "1") fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("previews the empty stack: every component, no step run, no cluster contacted", async function () {
        const result = await pulumi.ok(["preview", "--json"]);
        const steps = previewSteps(result.stdout);
        const types = new Set(steps.map(typeOf));
        for (const component of ["Environment", "Preflight", "TemporaryCluster", "CapiProviders", "ManagementCluster", "Pivot", "FluxInstall", "BootstrapModule"]) {
            assert.ok(types.has(`fleet:index:${component}`), `preview shows no fleet:index:${component}; it shows ${[...types].join(", ")}`);
        }
        assert.ok(steps.every((s) => s.op === "create" || s.op === "same"), `an empty stack plans only creates: ${steps.filter((s) => s.op !== "create").map((s) => `${s.op} ${s.urn}`).join("; ")}`);
        assert.ok(!fs.existsSync(fakeLog) || fs.readFileSync(fakeLog, "utf8").trim() === "", `preview ran a tool: ${fs.existsSync(fakeLog) ? fs.readFileSync(fakeLog, "utf8") : ""}`);
        console.log(`      preview: ${steps.length} resources in ${result.seconds.toFixed(1)} s`);
    });
});
