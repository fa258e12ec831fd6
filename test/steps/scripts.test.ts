// The step scripts as text: how render/steps.ts assembles them, shellcheck, and the rules every
// step follows (tools it may use, no tracing, no sourcing, documented environment contract).
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { STEP_NAMES, STEPS_DIR, stepScript, StepName } from "../../render/steps";
import { REPO, shellcheckOnce } from "./harness";
import { runSync } from "../support/bounds";

const lib = fs.readFileSync(path.join(STEPS_DIR, "lib.sh"), "utf8");
const own = (name: StepName) => fs.readFileSync(path.join(STEPS_DIR, `${name}.sh`), "utf8");
/** Script lines without comments and without the contents of string literals. */
function code(text: string): string[] {
    return text.split("\n")
        .filter((l) => !/^\s*#/.test(l))
        .map((l) => l.replace(/'[^']*'/g, "''").replace(/"(?:[^"\\]|\\.)*"/g, '""'));
}

describe("step scripts", () => {
    it("stepScript(name) is lib.sh + newline + <name>.sh, read once", () => {
        for (const name of STEP_NAMES) {
            assert.strictEqual(stepScript(name), `${lib}\n${own(name)}`);
            assert.strictEqual(stepScript(name), stepScript(name));
        }
        assert.throws(() => stepScript("nope" as StepName), /unknown step "nope"/);
        assert.deepStrictEqual(fs.readdirSync(STEPS_DIR).sort(), ["lib.sh", ...STEP_NAMES.map((n) => `${n}.sh`)].sort());
    });

    it("pass shellcheck exactly as concatenated (scripts/shellcheck.sh)", async function () {
        const r = await shellcheckOnce();
        assert.strictEqual(r.status, 0, r.output);
        assert.match(r.output, new RegExp(`${STEP_NAMES.length} step scripts \\(each with lib\\.sh\\) are clean`));
    });

    it("scripts/shellcheck.sh fails with a clear message when shellcheck is missing", () => {
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "no-shellcheck-"));
        for (const t of ["dirname", "mktemp", "rm", "wc", "cat", "sort", "basename", "tr"]) {
            const found = ["/usr/bin", "/bin"].map((d) => path.join(d, t)).find((p) => fs.existsSync(p));
            if (found) fs.symlinkSync(found, path.join(bin, t));
        }
        const r = runSync("scripts/shellcheck.sh without shellcheck", "/bin/bash", [path.join(REPO, "scripts", "shellcheck.sh")], { env: { PATH: bin } });
        fs.rmSync(bin, { recursive: true, force: true });
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /shellcheck is not installed, so the step scripts cannot be checked\.\nInstall it/);
    });

    it("use only bash, coreutils, kind, clusterctl, kubectl, docker, age and tar", () => {
        const forbidden = /(^|[|;&(`]\s*|\b(?:then|do|else|if|while|!)\s+|\$\(\s*)(jq|yq|node|python3?|perl|ruby|awk|gawk|sed|grep|egrep|curl|wget|envsubst|openssl)\b/;
        for (const file of ["lib.sh", ...STEP_NAMES.map((n) => `${n}.sh`)]) {
            code(fs.readFileSync(path.join(STEPS_DIR, file), "utf8")).forEach((line, i) => {
                assert.doesNotMatch(line, forbidden, `${file}:${i + 1}: ${line}`);
            });
        }
    });

    it("never trace, source other files, rely on $0 or use the ambient kubeconfig", () => {
        for (const name of STEP_NAMES) {
            const lines = code(stepScript(name));
            const text = lines.join("\n");
            assert.doesNotMatch(text, /set\s+-[a-wyz]*x|set\s+-o\s+xtrace/, `${name}: set -x`);
            assert.doesNotMatch(text, /(^|[;&|]\s*)(source|\.)\s+\S/m, `${name}: sources a file`);
            assert.doesNotMatch(text, /\$0|\$\{0\}|BASH_SOURCE/, `${name}: uses $0`);
            assert.doesNotMatch(text, /\bexport\s+KUBECONFIG|KUBECONFIG=/, `${name}: sets KUBECONFIG`);
            assert.match(text, /^set -Eeuo pipefail$/m);
            assert.match(text, /^unset KUBECONFIG$/m);
        }
    });

    it("document their environment contract and output in the header", () => {
        for (const name of STEP_NAMES) {
            const header = own(name).split("\n").filter((l) => l.startsWith("#")).join("\n");
            assert.match(header, new RegExp(`# Step: ${name}\\.`), name);
            assert.match(header, /Environment:/, name);
            assert.match(header, /Stdout:/, name);
            assert.match(own(name), new RegExp(`^fleet_step ${name}$`, "m"), `${name} calls fleet_step`);
        }
    });
});
