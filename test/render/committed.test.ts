// The `local` stack's Flux syncs this repository itself, so its rendered files are committed here and
// must never be stale: this fails until `npm run render -- local` has been run and committed.
import * as assert from "node:assert/strict";
import * as path from "node:path";

import { renderFleetRepository } from "../../render/fleetRepo";
import { loadStackSpec } from "../../stacks/stackFiles";
import { syncFleetDirectory } from "../../tools/render";

describe("committed fleet repository files", () => {
    it("clusters/local/ is what `npm run render -- local` renders from Pulumi.local.yaml", () => {
        const loaded = loadStackSpec("local");
        assert.ok(loaded.ok, loaded.ok ? "" : loaded.errors.join("\n"));
        const repoRoot = path.resolve(__dirname, "../..");
        const result = syncFleetDirectory(repoRoot, loaded.spec, renderFleetRepository(loaded.spec), true);
        assert.deepEqual([...result.written, ...result.removed], [], "stale: run `npm run render -- local` and commit clusters/local/");
    });
});
