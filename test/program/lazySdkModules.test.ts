// The start-up preload (runtime/lazySdkModules.ts): node runs exactly as the Pulumi runtime starts it, with
// Pulumi.yaml's nodeargs, in a process of its own.
import * as assert from "assert";
import { repoRoot } from "../../stacks/stackFiles";
import { projectNodeArgs } from "../support/nodeArgs";
import { runSync } from "../support/bounds";

/** The closure-serialization modules the preload defers, as they appear in require.cache. */
const deferred = { typescript: "/node_modules/typescript/", arborist: "/node_modules/@npmcli/arborist/", normalizePackageData: "/node_modules/normalize-package-data/" };

/** Runs `script` in node started with `nodeArgs`; it prints JSON on its last line. */
function run(nodeArgs: string[], script: string): Record<string, unknown> {
    const probe = `const loaded = () => Object.fromEntries(Object.entries(${JSON.stringify(deferred)}).map(([k, dir]) => [k, Object.keys(require.cache).some((f) => f.includes(dir))]));\n${script}`;
    const result = runSync(`node ${nodeArgs.join(" ")}`, process.execPath, [...nodeArgs, "-e", probe], { cwd: repoRoot });
    assert.strictEqual(result.status, 0, result.stderr);
    return JSON.parse(result.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

describe("start-up: the SDK's closure-serialization modules load on first use", () => {

    it("without the preload, loading @pulumi/pulumi loads every one of them (the preload still has work to do)", () => {
        const out = run(["--require", "tsx/cjs"], `require("@pulumi/pulumi"); console.log(JSON.stringify(loaded()));`);
        assert.deepStrictEqual(out, { typescript: true, arborist: true, normalizePackageData: true }, "this @pulumi/pulumi defers them itself: remove runtime/lazySdkModules.ts from Pulumi.yaml's nodeargs");
    });

    it("with Pulumi.yaml's nodeargs, the program's modules load without them", () => {
        assert.ok(projectNodeArgs().includes("./runtime/lazySdkModules.ts"), "Pulumi.yaml nodeargs preload ./runtime/lazySdkModules.ts");
        const out = run(projectNodeArgs(), `require("./stacks/environment.ts"); require("./stacks/programConfig.ts"); console.log(JSON.stringify(loaded()));`);
        assert.deepStrictEqual(out, { typescript: false, arborist: false, normalizePackageData: false });
    });

    it("the runner's inspector session: not opened before the program runs, opened by closure serialization when it needs one", () => {
        const out = run(
            projectNodeArgs(),
            `const { Module } = require("module");
             const path = require("path");
             const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
             // The runner's require, from the runner's file.
             const runner = new Module(path.join(sdk, "cmd", "run", "index.js"));
             runner.filename = runner.id;
             runner.paths = Module._nodeModulePaths(path.dirname(runner.id));
             const hooks = runner.require("../../runtime/closure/v8Hooks");
             const inspector = require("inspector");
             let sessions = 0;
             const connect = inspector.Session.prototype.connect;
             inspector.Session.prototype.connect = function () { sessions++; return connect.call(this); };
             (async () => {
                 await hooks.isInitializedAsync();
                 const atStart = sessions;
                 const fn = await require("@pulumi/pulumi").runtime.serializeFunction(() => 40 + 2);
                 console.log(JSON.stringify({ atStart, afterSerializing: sessions, serialized: fn.text.includes("40 + 2") }));
             })();`,
        );
        assert.deepStrictEqual(out, { atStart: 0, afterSerializing: 1, serialized: true });
    });

    it("with the preload, serializing a function and computing code paths still work, loading the modules then", () => {
        const out = run(
            projectNodeArgs(),
            `const pulumi = require("@pulumi/pulumi");
             const before = loaded();
             (async () => {
                 const fn = await pulumi.runtime.serializeFunction(() => 40 + 2);
                 const exported = new Function("exports", "require", fn.text + "; return exports." + fn.exportName + ";")({}, require);
                 const codePaths = await pulumi.runtime.computeCodePaths();
                 console.log(JSON.stringify({ before, result: exported(), codePathsHasJsYaml: codePaths.has("node_modules/js-yaml"), after: loaded() }));
             })();`,
        );
        assert.deepStrictEqual(out, {
            before: { typescript: false, arborist: false, normalizePackageData: false },
            result: 42,
            codePathsHasJsYaml: true,
            after: { typescript: true, arborist: true, normalizePackageData: true },
        });
    });
});
