// One run of the program renders the environment's fleet repository once and reads its committed render
// once: the drift check, the local fleet source and the plan's result (hence `npm run bench`) share them.
import * as assert from "node:assert/strict";
import type { PathOrFileDescriptor } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import type * as FleetRepo from "../../render/fleetRepo";
import { renderDigest, renderFleetRepository } from "../../render/fleetRepo";
import { listFiles } from "../../stacks/fleetCheckout";
import type { EnvironmentSpec } from "../../stacks/spec";
import { loadStackSpec } from "../../stacks/stackFiles";
import { Plan, planStack } from "../../tools/planner";
import { syncFleetDirectory } from "../../tools/render";

// The module object itself (an `import * as` binding is a read-only copy), to count reads through it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeFs = require("node:fs") as typeof import("node:fs");

interface Observed {
    plan: Plan;
    /** The files of every renderFleetRepository call during the plan. */
    renders: Array<Map<string, string>>;
    /** Reads of each file under the watched directory. */
    reads: Map<string, number>;
}

/**
 * Plans `stack`, counting renders and the reads of files under `watched`. Every plan loads the program's
 * modules afresh (planner.ts, forgetProgram), so they import the counting renderer put in the module cache.
 */
async function observePlan(stack: string, overrides: Record<string, unknown>, watched: string): Promise<Observed> {
    const cached = require.cache[require.resolve("../../render/fleetRepo")]!;
    const renderer = cached.exports as typeof FleetRepo;
    const renders: Observed["renders"] = [];
    const reads = new Map<string, number>();
    const readFileSync = nodeFs.readFileSync;
    cached.exports = {
        ...renderer,
        renderFleetRepository: (spec: EnvironmentSpec) => {
            const files = renderer.renderFleetRepository(spec);
            renders.push(files);
            return files;
        },
    };
    nodeFs.readFileSync = ((file: PathOrFileDescriptor, ...rest: unknown[]) => {
        if (typeof file === "string" && file.startsWith(watched + path.sep)) reads.set(file, (reads.get(file) ?? 0) + 1);
        return (readFileSync as (...args: unknown[]) => unknown)(file, ...rest);
    }) as typeof nodeFs.readFileSync;
    try {
        const result = await planStack({ stack, overrides });
        assert.ok(result.ok, result.ok ? "" : result.errors.join("\n"));
        return { plan: result.plan, renders, reads };
    } finally {
        cached.exports = renderer;
        nodeFs.readFileSync = readFileSync;
    }
}

const driftWarnings = (plan: Plan) => plan.warnings.filter((w) => w.startsWith("fleet repository"));
const sourceRevision = (plan: Plan) => {
    const step = plan.resources.find((r) => r.type === "command:local:Command" && r.name === "fleet-source-registry")!;
    return (step.inputs.environment as Record<string, string>).FLEET_SOURCE_REVISION;
};

describe("one render per run (issue 24)", () => {
    // A checkout of local's fleet repository holding its fresh render and a hand-written file beside it.
    let checkout: string;
    const handWritten = "clusters/local/mgmt/README.md";
    before(() => {
        const loaded = loadStackSpec("local");
        assert.ok(loaded.ok);
        checkout = nodeFs.mkdtempSync(path.join(os.tmpdir(), "render-once-"));
        syncFleetDirectory(checkout, loaded.spec, renderFleetRepository(loaded.spec));
        nodeFs.writeFileSync(path.join(checkout, handWritten), "Hand-written: served by the local fleet source, never compared.\n");
    });
    after(() => nodeFs.rmSync(checkout, { recursive: true, force: true }));

    it("renders the fleet repository once and returns that render with the plan", async () => {
        const { plan, renders } = await observePlan("local", { fleetCheckout: checkout }, checkout);
        assert.equal(renders.length, 1, "the drift check and the plan's result share one render");
        assert.equal(plan.fleetRepository, renders[0], "the plan hands on the very files the drift check compared");
        assert.deepEqual(plan.fleetRepository, renderFleetRepository(plan.spec));
        assert.deepEqual(driftWarnings(plan), [], "the checkout holds this render: the drift check compared against it");
    });

    it("reads each committed file once, for the drift check and the local fleet source alike", async () => {
        const { plan, reads } = await observePlan("local", { fleetCheckout: checkout }, checkout);
        const files = listFiles(path.join(checkout, "clusters/local"));
        assert.ok(files.includes(path.join(checkout, handWritten)));
        assert.deepEqual(new Map([...reads].sort()), new Map(files.sort().map((file) => [file, 1])));
        // The source serves (and its revision covers) every file; the drift check ignores the hand-written one.
        const served = new Map(files.map((file) => [path.relative(checkout, file), nodeFs.readFileSync(file, "utf8")]));
        assert.equal(sourceRevision(plan), renderDigest(served));
        served.delete(handWritten);
        assert.notEqual(sourceRevision(plan), renderDigest(served));
        assert.deepEqual(driftWarnings(plan), []);
    });

    it("renders again when the spec changes, and compares the new render", async () => {
        const before = await observePlan("local", { fleetCheckout: checkout }, checkout);
        const after = await observePlan("local", { fleetCheckout: checkout, workloadClusters: "- name: qa\n" }, checkout);
        assert.equal(after.renders.length, 1);
        assert.ok(after.plan.fleetRepository.has("clusters/local/mgmt/cluster-qa.yaml"));
        assert.ok(!before.plan.fleetRepository.has("clusters/local/mgmt/cluster-qa.yaml"));
        assert.deepEqual(after.plan.fleetRepository, renderFleetRepository(after.plan.spec));
        const [warning, ...more] = driftWarnings(after.plan);
        assert.deepEqual(more, []);
        assert.match(warning, /is not what the stack configuration renders \(clusters\/local\/mgmt\/kustomization\.yaml, clusters\/local\/mgmt\/cluster-qa\.yaml, /);
        assert.equal(sourceRevision(after.plan), sourceRevision(before.plan), "the committed render did not change");
    });
});
