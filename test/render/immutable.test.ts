// Immutable fields: the table matches what the upstream CRDs declare immutable, and a change is refused at
// preview with the fix.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { IMMUTABLE_FIELDS } from "../../render/immutable";
import { planStack } from "../../tools/planner";
import { crdsDir } from "../fixtures/paths";

interface Schema { description?: string; properties?: Record<string, Schema>; items?: Schema }

/** Dotted paths of every property whose description says it is immutable. */
function immutablePaths(schema: Schema, prefix = ""): string[] {
    return Object.entries(schema.properties ?? {}).flatMap(([key, child]) => {
        const here = prefix ? `${prefix}.${key}` : key;
        return [...(/This field is immutable/.test(child.description ?? "") ? [here] : []), ...immutablePaths(child, here)];
    });
}

describe("immutable fields", () => {
    it("are exactly those the upstream CRDs (served storage version) describe as immutable", () => {
        const files: Record<string, string> = {
            "addons.cluster.x-k8s.io/ClusterResourceSet": "cluster-api/addons.cluster.x-k8s.io_clusterresourcesets.yaml",
            "addons.cluster.x-k8s.io/HelmChartProxy": "cluster-api-addon-helm/addons.cluster.x-k8s.io_helmchartproxies.yaml",
        };
        assert.deepStrictEqual(Object.keys(IMMUTABLE_FIELDS).sort(), Object.keys(files).sort());
        for (const [kind, file] of Object.entries(files)) {
            const crd = yaml.load(fs.readFileSync(path.join(crdsDir(), file), "utf8")) as { spec: { versions: { storage: boolean; schema: { openAPIV3Schema: Schema } }[] } };
            const storage = crd.spec.versions.find((v) => v.storage)!;
            assert.deepStrictEqual([...IMMUTABLE_FIELDS[kind]].sort(), immutablePaths(storage.schema.openAPIV3Schema).sort(), kind);
        }
    });

    it("a changed module strategy is refused at preview with the fix; unchanged values pass", async () => {
        const first = await planStack({ stack: "local", preview: true });
        assert.ok(first.ok);
        const recorded = first.plan.outputs.immutableFields as Record<string, string>;
        const strategy = Object.keys(recorded).find((k) => k.startsWith("HelmChartProxy ") && k.endsWith("/cni spec.reconcileStrategy"));
        assert.ok(strategy, `the cni module's strategy is recorded: ${Object.keys(recorded).join(", ")}`);
        const same = await planStack({ stack: "local", preview: true, previousOutputs: { immutableFields: recorded } });
        assert.ok(same.ok, "unchanged immutable fields pass");
        const previous = { ...recorded, [strategy]: JSON.stringify("InstallOnce") };
        await assert.rejects(
            planStack({ stack: "local", preview: true, previousOutputs: { immutableFields: previous } }),
            /fleet-bootstrap:bootstrapModules: HelmChartProxy \S+\/cni: spec.reconcileStrategy changed from "InstallOnce" to "Continuous", but Cluster API refuses .*"field is immutable".*give the bootstrap module a new name.*delete helmchartproxy cni/,
        );
    });
});
