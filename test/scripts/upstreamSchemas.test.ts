// The upstream CRDs and reference files: wherever the tests take them from, they are exactly the files
// of scripts/upstream-files.sha256, and scripts/upstream-schemas.sh refuses a file that is not.
import * as assert from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { crdsDir, referenceDataDir, upstreamScript } from "../fixtures/paths";
import { runSync } from "../support/bounds";

const manifestFile = path.join(path.dirname(upstreamScript), "upstream-files.sha256");
const entries = fs.readFileSync(manifestFile, "utf8").split("\n").filter((l) => l.trim() && !l.startsWith("#")).map((l) => {
    const [sha, file, module, inner] = l.split(/\s+/);
    return { sha, file, module, inner };
});

function yamlFilesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".yaml")).map((f) => f.split(path.sep).join("/")).sort();
}

/** A stand-in for `go mod download -json M@V`: prints what the real command prints for a module in `modules`. */
function fakeGo(dir: string, modules: Record<string, string>): string {
    const go = path.join(dir, "go");
    const table = Object.entries(modules).map(([m, d]) => `    ${JSON.stringify(m)}) dir=${JSON.stringify(d)} ;;`).join("\n");
    fs.writeFileSync(go, `#!/usr/bin/env bash
[[ $1 == mod && $2 == download && $3 == -json ]] || { echo "go: unexpected $*" >&2; exit 2; }
case $4 in
${table}
    *) printf '{\\n\\t"Path": "%s",\\n\\t"Error": "%s: reading https://proxy.golang.org/: 404 Not Found"\\n}\\n' "\${4%@*}" "$4"; exit 1 ;;
esac
printf '{\\n\\t"Path": "%s",\\n\\t"Version": "%s",\\n\\t"Dir": "%s"\\n}\\n' "\${4%@*}" "\${4#*@}" "$dir"
`, { mode: 0o755 });
    return go;
}

describe("upstream CRDs and reference files", () => {
    it("the tests read exactly the files the manifest lists, with its sha256", () => {
        const listed = entries.map((e) => e.file).sort();
        const present = [...yamlFilesUnder(crdsDir()).map((f) => `crds/${f}`), ...yamlFilesUnder(referenceDataDir()).map((f) => `reference-data/${f}`)].sort();
        assert.deepStrictEqual(present, listed);
        for (const e of entries) {
            const dir = e.file.startsWith("crds/") ? crdsDir() : referenceDataDir();
            const got = createHash("sha256").update(fs.readFileSync(path.join(dir, e.file.replace(/^[^/]+\//, "")))).digest("hex");
            assert.strictEqual(got, e.sha, e.file);
        }
        // One pinned release per upstream module.
        for (const e of entries) assert.match(e.module, /^[a-z0-9./-]+@v\d+\.\d+\.\d+$/, e.file);
    });

    it("scripts/upstream-schemas.sh refuses a module file whose sha256 differs, and leaves no partial cache", () => {
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "upstream-"));
        try {
            const modules: Record<string, string> = {};
            for (const e of entries) {
                const dir = path.join(tmp, "modules", e.module);
                modules[e.module] = dir;
                const source = path.join(e.file.startsWith("crds/") ? crdsDir() : referenceDataDir(), e.file.replace(/^[^/]+\//, ""));
                fs.mkdirSync(path.dirname(path.join(dir, e.inner)), { recursive: true });
                fs.copyFileSync(source, path.join(dir, e.inner));
            }
            const env = { ...process.env, FLEET_UPSTREAM_CACHE: path.join(tmp, "cache"), GO: fakeGo(tmp, modules) };
            const good = runSync("scripts/upstream-schemas.sh", "bash", [upstreamScript], { env });
            assert.strictEqual(good.status, 0, good.stderr);
            const filled = good.stdout.trim().split("\n").pop()!;
            assert.ok(fs.existsSync(path.join(filled, ".complete")));
            assert.ok(fs.existsSync(path.join(filled, entries[0].file)));

            // Tampered upstream: a changed byte in one file.
            const victim = entries[entries.length - 1];
            fs.rmSync(path.join(tmp, "cache"), { recursive: true });
            fs.appendFileSync(path.join(modules[victim.module], victim.inner), "\n# changed\n");
            const bad = runSync("scripts/upstream-schemas.sh with a tampered module file", "bash", [upstreamScript], { env });
            assert.strictEqual(bad.status, 1);
            assert.match(bad.stderr, new RegExp(`${victim.module.replace(/[.]/g, "\\.")} ${victim.inner.replace(/[.]/g, "\\.")} has sha256 [0-9a-f]{64}, .*upstream-files\\.sha256 expects ${victim.sha}: not the pinned upstream file`));
            assert.ok(!fs.existsSync(filled), "no cache directory is marked complete");

            // No Go toolchain: a message that says what else works.
            const missing = runSync("scripts/upstream-schemas.sh without go", "bash", [upstreamScript], { env: { ...env, GO: path.join(tmp, "no-such-go") } });
            assert.strictEqual(missing.status, 1);
            assert.match(missing.stderr, /go not found .*set GO=.*FLEET_CRDS_DIR and FLEET_REFERENCE_DIR/);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });
});
