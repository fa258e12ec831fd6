// The fake API servers serve the kinds of the pinned providers' upstream CRDs, read by a line scan
// (test/fakes/crds.js) that must equal a full YAML parse of every CRD.
import * as assert from "assert";
import * as fs from "fs";
import * as yaml from "js-yaml";
import { crdsDir } from "../fixtures/paths";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const crds = require("../fakes/crds.js") as {
    crdFiles(): { provider: string; file: string }[];
    scanCrd(text: string): unknown;
    scanKinds(files: { provider: string; file: string }[]): { kind: string; group: string; provider: string; served: string[]; deprecated: string[] }[];
};

interface Crd {
    spec: { group: string; scope: string; names: { kind: string; plural: string; shortNames?: string[] }; versions: { name: string; served: boolean; storage: boolean; deprecated?: boolean }[] };
}

describe("fake API servers", () => {
    before(() => {
        process.env.FLEET_CRDS_DIR = crdsDir();
    });

    it("read every CRD a provider installs exactly as a YAML parser does (group, names, scope, served, storage, deprecated)", () => {
        const files = crds.crdFiles();
        assert.ok(files.length > 50, `${files.length} CRDs`);
        for (const { file } of files) {
            const text = fs.readFileSync(file, "utf8");
            const crd = yaml.load(text) as Crd;
            const expected = {
                group: crd.spec.group,
                kind: crd.spec.names.kind,
                plural: crd.spec.names.plural,
                shortNames: crd.spec.names.shortNames ?? [],
                namespaced: crd.spec.scope === "Namespaced",
                versions: crd.spec.versions.map((v) => ({ name: v.name, served: v.served, storage: v.storage, deprecated: Boolean(v.deprecated) })),
            };
            assert.deepStrictEqual(crds.scanCrd(text), expected, file);
        }
    });

    it("serve what the pinned versions serve: CAPD v1.14 Dev* and its deprecated Docker*, CAPA without v1beta1", () => {
        const kinds = crds.scanKinds(crds.crdFiles());
        const find = (kind: string) => kinds.find((k) => k.kind === kind && k.group === "infrastructure.cluster.x-k8s.io");
        assert.deepStrictEqual(find("DevMachineTemplate")?.served, ["v1beta1", "v1beta2"]);
        assert.deepStrictEqual(find("DevMachineTemplate")?.deprecated, ["v1beta1"]);
        assert.strictEqual(find("DevCluster")?.provider, "infrastructure-docker");
        assert.deepStrictEqual(find("DockerCluster")?.deprecated, ["v1beta1", "v1beta2"]);
        assert.deepStrictEqual(find("AWSCluster")?.served, ["v1beta2"]);
        assert.ok(!kinds.some((k) => k.kind === "Metadata"), "clusterctl's Metadata is not installed in clusters");
    });
});
