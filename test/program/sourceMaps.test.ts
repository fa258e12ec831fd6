// The source-map preload (runtime/sourceMaps.ts), in node started with Pulumi.yaml's nodeargs as the Pulumi
// runtime starts it: the program's frames on their .ts lines, package frames as they are, and an error
// from inside the SDK formatted the way Pulumi's runner formats every uncaught error.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { repoRoot } from "../../stacks/stackFiles";
import { projectNodeArgs } from "../support/nodeArgs";
import { runSync } from "../support/bounds";

describe("start-up: source maps", () => {
    it("an error thrown in an apply: its .ts frame on the source line, the SDK's frames in node_modules as .js, util.inspect with colors in one go", () => {
        const sourceLine = fs.readFileSync(path.join(repoRoot, "components", "stepCommand.ts"), "utf8").split("\n").findIndex((l) => l.includes("new pulumi.ResourceError(")) + 1;
        const script = `
            const util = require("util");
            const pulumi = require("@pulumi/pulumi");
            const { userError } = require("./components/stepCommand.ts");
            // As under the runner: the rejection goes unhandled, and is formatted there.
            process.once("unhandledRejection", (err) => {
                const inspected = util.inspect(err, { colors: true });
                console.log(JSON.stringify({ stack: err.stack, inspectedLength: inspected.length }));
                process.exit(0);
            });
            pulumi.output(1).apply(() => { throw userError("refused", undefined); });`;
        const result = runSync("node with the project's nodeargs", process.execPath, [...projectNodeArgs(), "-e", script], { cwd: repoRoot });
        assert.strictEqual(result.status, 0, result.stderr);
        const out = JSON.parse(result.stdout.trim().split("\n").pop()!) as { stack: string; inspectedLength: number };
        assert.match(out.stack, new RegExp(`components/stepCommand\\.ts:${sourceLine}:\\d+`), "the program's frame is not on its .ts line");
        assert.match(out.stack, /node_modules\/@pulumi\/pulumi\/output\.js:\d+:\d+/, "the SDK's frame is not the package's own file");
        assert.doesNotMatch(out.stack, /node_modules\/@pulumi\/[^/]+\.ts:/, "an SDK frame points at a source the package does not ship");
        assert.ok(out.inspectedLength < 4000, `util.inspect produced ${out.inspectedLength} characters`);
    });
});
