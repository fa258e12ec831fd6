// scripts/shellcheck.sh lints scripts/ as well as the step scripts, and reads every line of each.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runSync } from "../support/bounds";

const repo = path.resolve(__dirname, "../..");

describe("scripts/shellcheck.sh", () => {
    it("reports a finding in a scripts/*.sh file by file and line, also after a comment that names the tool", function () {
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lint-"));
        try {
            fs.cpSync(path.join(repo, "steps"), path.join(tmp, "steps"), { recursive: true });
            fs.mkdirSync(path.join(tmp, "scripts"));
            fs.copyFileSync(path.join(repo, "scripts", "shellcheck.sh"), path.join(tmp, "scripts", "shellcheck.sh"));
            fs.writeFileSync(path.join(tmp, "scripts", "tool.sh"), '#!/usr/bin/env bash\nset -euo pipefail\n# ShellCheck reads this file to the end\nfiles=$1\nls $files\n');
            const r = runSync("scripts/shellcheck.sh on a copy with a finding", "bash", [path.join(tmp, "scripts", "shellcheck.sh")]);
            assert.strictEqual(r.status, 1, r.stdout + r.stderr);
            assert.match(r.stderr, /^scripts\/tool\.sh:5:4: note: Double quote to prevent globbing and word splitting\. \[SC2086\]$/m);
            assert.doesNotMatch(r.stderr, /SC1073/);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    it("has no comment line the tool would take for a directive (SC1073 stopped it checking itself)", () => {
        const r = runSync("shellcheck of scripts/shellcheck.sh", "shellcheck", ["--shell=bash", "--format=gcc", path.join(repo, "scripts", "shellcheck.sh")]);
        assert.strictEqual(r.status, 0, r.stdout + r.stderr);
    });
});
