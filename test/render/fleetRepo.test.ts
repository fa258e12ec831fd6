// The Git side of an environment: layout, validity, determinism, and `npm run render`'s file handling.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { pruneDisabledAnnotation, renderClusterObjects } from "../../render/capi";
import { compareRender, generatedHeader, isGeneratedFile, moduleFile, renderDriftWarnings, renderFleetRepository } from "../../render/fleetRepo";
import { renderClusterSettings, renderFluxInstance, renderFluxOperatorRelease } from "../../render/flux";
import { placeholderSecretValues, renderManagementBootstrap, renderModule } from "../../render/modules";
import { parseYamlDocuments } from "../../render/yaml";
import type { EnvironmentSpec } from "../../stacks/spec";
import { parseArgs, syncFleetDirectory } from "../../tools/render";
import { localSpec, stagingSpec } from "../fixtures/specs";
import { validateYaml } from "../support/validate";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function reversedKeys<T>(record: Record<string, T>): Record<string, T> {
    return Object.fromEntries(Object.entries(record).reverse());
}

/** The same environment with every map and list whose order carries no meaning reordered. */
function reordered(spec: EnvironmentSpec): EnvironmentSpec {
    const clone: EnvironmentSpec = JSON.parse(JSON.stringify(spec));
    for (const cluster of [clone.managementCluster, ...clone.workloadClusters]) cluster.labels = reversedKeys(cluster.labels);
    clone.workloadClusters.reverse();
    for (const module of clone.bootstrapModules) module.selector = reversedKeys(module.selector);
    return clone;
}

describe("renderFleetRepository", () => {
    const local = localSpec();
    const staging = stagingSpec({ workloads: ["blue", "green"] });

    it("lays out design note 004's tree: the management cluster's folder and one per workload cluster", () => {
        assert.deepEqual([...renderFleetRepository(staging).keys()], [
            "clusters/staging/blue/cluster-settings.yaml",
            "clusters/staging/blue/kustomization.yaml",
            "clusters/staging/green/cluster-settings.yaml",
            "clusters/staging/green/kustomization.yaml",
            "clusters/staging/mgmt/cluster-blue.yaml",
            "clusters/staging/mgmt/cluster-green.yaml",
            "clusters/staging/mgmt/cluster-mgmt.yaml",
            "clusters/staging/mgmt/cluster-settings.yaml",
            "clusters/staging/mgmt/flux-instance.yaml",
            "clusters/staging/mgmt/flux-operator.yaml",
            "clusters/staging/mgmt/kustomization.yaml",
            "clusters/staging/mgmt/module-cloud-controller-manager.yaml",
            "clusters/staging/mgmt/module-cni.yaml",
            "clusters/staging/mgmt/module-flux-instance.yaml",
            "clusters/staging/mgmt/module-flux-operator.yaml",
            "clusters/staging/mgmt/module-flux-secrets.yaml",
            "clusters/staging/mgmt/namespace.yaml",
        ]);
    });

    it("holds the platform the management cluster runs: the self-managed FluxInstance, the operator's release, its settings", () => {
        for (const spec of [local, staging]) {
            const files = renderFleetRepository(spec);
            const dir = `clusters/${spec.environment}/mgmt`;
            assert.deepEqual(parseYamlDocuments(files.get(`${dir}/flux-instance.yaml`)!), [renderFluxInstance(spec)], "the instance the program applies, sync included");
            assert.deepEqual(parseYamlDocuments(files.get(`${dir}/flux-operator.yaml`)!), renderFluxOperatorRelease(spec));
            assert.deepEqual(parseYamlDocuments(files.get(`${dir}/cluster-settings.yaml`)!), [renderClusterSettings(spec, spec.managementCluster)]);
        }
    });

    it("holds every bootstrap module as the program applies it, labelled and selected as on the cluster, but never its Secrets", () => {
        const spec = stagingSpec();
        const files = renderFleetRepository(spec);
        for (const module of spec.bootstrapModules) {
            const inGit = parseYamlDocuments(files.get(`clusters/staging/mgmt/${moduleFile(module)}`)!) as Obj[];
            const applied = renderModule(spec, module, placeholderSecretValues(spec)) as Obj[];
            assert.deepEqual(inGit, applied.filter((o) => o.kind !== "Secret"), module.name);
            assert.ok(inGit.length > 0 && inGit.every((o) => o.metadata.labels["fleet-bootstrap.io/module"] === module.name), module.name);
        }
        const secrets = parseYamlDocuments(files.get("clusters/staging/mgmt/module-flux-secrets.yaml")!) as Obj[];
        assert.deepEqual(secrets.map((o) => o.kind), ["ClusterResourceSet"], "the resource set is in Git, the Secret it names is applied by the program");
    });

    it("holds no secret material, whatever secrets the environment has", () => {
        const values = placeholderSecretValues(stagingSpec());
        const secretTexts = [values.sopsAgeKey!, values.git!.password!, "<secret gitSshIdentity>"];
        for (const spec of [localSpec({ sopsAgeKey: true, gitCredentials: true }), stagingSpec()]) {
            for (const [file, content] of renderFleetRepository(spec)) {
                for (const text of secretTexts) assert.ok(!content.includes(text), `${file} holds ${text}`);
                for (const object of parseYamlDocuments(content) as Obj[]) assert.notEqual(object.kind, "Secret", file);
                assert.doesNotMatch(content, /AGE-SECRET-KEY|PRIVATE KEY/, file);
            }
        }
    });

    it("drops a module removed from the configuration, so that Flux prunes it once the render is committed", () => {
        const extra = { name: "ingress", selector: { tier: "general" }, content: { kind: "helm", repoURL: "https://charts.example.com", chartName: "ingress", version: "1.0.0", releaseName: "ingress", namespace: "ingress", valuesTemplate: "", reconcileStrategy: "Continuous" } } as const;
        const withModule = stagingSpec();
        withModule.bootstrapModules.push({ ...extra, selector: { ...extra.selector }, content: { ...extra.content } });
        const before = renderFleetRepository(withModule);
        const after = renderFleetRepository(stagingSpec());
        const file = "clusters/staging/mgmt/module-ingress.yaml";
        assert.ok(before.has(file));
        assert.ok(!after.has(file), "the module's file is gone");
        const listed = (files: Map<string, string>) => (parseYamlDocuments(files.get("clusters/staging/mgmt/kustomization.yaml")!)[0] as Obj).resources as string[];
        assert.ok(listed(before).includes("module-ingress.yaml") && !listed(after).includes("module-ingress.yaml"));
        assert.ok(!(parseYamlDocuments(before.get(file)!) as Obj[]).some((o) => o.metadata.annotations?.["kustomize.toolkit.fluxcd.io/prune"]), "modules are pruned");
        assert.deepEqual(compareRender(after, before), { changed: ["clusters/staging/mgmt/kustomization.yaml"], missing: [], removed: [file] });
    });

    for (const spec of [local, staging]) {
        it(`(${spec.environment}) every file validates, every kustomization lists existing files, every file has the header`, () => {
            const files = renderFleetRepository(spec);
            for (const [file, content] of files) {
                assert.ok(content.startsWith(generatedHeader(spec)), `${file}: header`);
                assert.ok(isGeneratedFile(content));
                if (path.basename(file) === "kustomization.yaml") {
                    const k = parseYamlDocuments(content)[0] as Obj;
                    assert.equal(k.apiVersion, "kustomize.config.k8s.io/v1beta1");
                    assert.equal(k.kind, "Kustomization");
                    assert.deepEqual(Object.keys(k), ["apiVersion", "kind", "resources"]);
                    const siblings = [...files.keys()].filter((f) => path.dirname(f) === path.dirname(file) && f !== file).map((f) => path.basename(f));
                    assert.deepEqual([...k.resources].sort(), siblings.sort(), `${file} lists exactly its folder's files`);
                } else {
                    assert.deepEqual(validateYaml(content), [], file);
                }
            }
        });
    }

    it("holds the management cluster's own definition, identical to the bootstrap apply and never pruned", () => {
        const files = renderFleetRepository(staging);
        const inGit = parseYamlDocuments(files.get("clusters/staging/mgmt/cluster-mgmt.yaml")!) as Obj[];
        assert.deepEqual(inGit, renderClusterObjects(staging, staging.managementCluster));
        assert.deepEqual(inGit, (renderManagementBootstrap(staging) as Obj[]).filter((o) => inGit.some((g) => g.kind === o.kind && g.metadata.name === o.metadata.name)));
        for (const o of inGit) assert.deepEqual(o.metadata.annotations, { ...pruneDisabledAnnotation });
        const ns = parseYamlDocuments(files.get("clusters/staging/mgmt/namespace.yaml")!)[0] as Obj;
        assert.deepEqual(ns.metadata, { name: staging.clusterNamespace, annotations: { ...pruneDisabledAnnotation } });
    });

    it("holds each workload cluster's definition, labelled so the modules select it, and seeds its cluster-settings", () => {
        const files = renderFleetRepository(staging);
        const blue = parseYamlDocuments(files.get("clusters/staging/mgmt/cluster-blue.yaml")!) as Obj[];
        const cluster = blue.find((o) => o.kind === "Cluster")!;
        assert.deepEqual(cluster.metadata.labels, staging.workloadClusters[0].labels);
        assert.equal(cluster.metadata.annotations, undefined, "workload clusters follow Git, removal included");
        const crs = blue.find((o) => o.kind === "ClusterResourceSet")!;
        assert.deepEqual(crs.spec.clusterSelector.matchLabels, { "fleet-bootstrap.io/cluster": "blue", "fleet-bootstrap.io/environment": "staging" });
        const seeded = blue.find((o) => o.kind === "ConfigMap" && o.metadata.name === crs.spec.resources[0].name)!;
        const downstream = parseYamlDocuments(seeded.data["manifests.yaml"]) as Obj[];
        const settings = parseYamlDocuments(files.get("clusters/staging/blue/cluster-settings.yaml")!)[0];
        assert.deepEqual(downstream[1], settings, "the seeded ConfigMap is the one Flux then keeps from Git");
        assert.equal(downstream[0].kind, "Namespace");
    });

    it("contains nothing Flux's postBuild substitution would change (no ${…})", () => {
        for (const spec of [local, staging]) {
            for (const [file, content] of renderFleetRepository(spec)) assert.doesNotMatch(content, /\$\{/, file);
        }
    });

    it("is byte-identical across runs and across reordering labels, selectors and workload clusters", () => {
        for (const spec of [local, staging]) {
            const first = renderFleetRepository(spec);
            assert.deepEqual(renderFleetRepository(spec), first);
            assert.deepEqual(renderFleetRepository(reordered(spec)), first);
        }
    });

    it("refuses a workload fluxPath the Flux module would not sync, and paths outside clusters/<env>/", () => {
        const bad = localSpec();
        bad.workloadClusters[0].fluxPath = "clusters/local/other";
        assert.throws(() => renderFleetRepository(bad), /fluxPath must be clusters\/local\/dev/);
        const escaping = localSpec();
        escaping.managementCluster.fluxPath = "clusters/local/../../etc";
        assert.throws(() => renderFleetRepository(escaping), /must be a folder under clusters\/local\//);
    });
});

describe("npm run render (file handling)", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-render-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("writes the files, then leaves unchanged files alone", () => {
        const spec = localSpec();
        const files = renderFleetRepository(spec);
        const first = syncFleetDirectory(dir, spec, files);
        assert.deepEqual(first.written, [...files.keys()]);
        for (const [file, content] of files) assert.equal(fs.readFileSync(path.join(dir, file), "utf8"), content);
        const second = syncFleetDirectory(dir, spec, files);
        assert.deepEqual(second, { written: [], unchanged: [...files.keys()], removed: [] });
    });

    it("removes files it generated before that the configuration no longer produces, never hand-written ones", () => {
        const before = localSpec({ workloads: ["dev", "qa"] });
        syncFleetDirectory(dir, before, renderFleetRepository(before));
        const handWritten = path.join(dir, "clusters/local/qa/apps.yaml");
        fs.writeFileSync(handWritten, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n");
        const otherEnv = path.join(dir, "clusters/staging/mgmt/cluster-mgmt.yaml");
        fs.mkdirSync(path.dirname(otherEnv), { recursive: true });
        fs.writeFileSync(otherEnv, generatedHeader({ environment: "staging" }));

        const after = localSpec({ workloads: ["dev"] });
        const result = syncFleetDirectory(dir, after, renderFleetRepository(after));
        assert.deepEqual(result.removed.sort(), ["clusters/local/mgmt/cluster-qa.yaml", "clusters/local/qa/cluster-settings.yaml", "clusters/local/qa/kustomization.yaml"]);
        assert.ok(fs.existsSync(handWritten), "hand-written file kept");
        assert.ok(fs.existsSync(otherEnv), "other environments untouched");
        assert.ok(!fs.existsSync(path.join(dir, "clusters/local/mgmt/cluster-qa.yaml")));
    });

    it("refuses to overwrite a file it did not generate, and reports instead of writing with --check", () => {
        const spec = localSpec();
        const files = renderFleetRepository(spec);
        const target = path.join(dir, "clusters/local/mgmt/kustomization.yaml");
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, "resources: []\n");
        assert.throws(() => syncFleetDirectory(dir, spec, files), /refusing to overwrite clusters\/local\/mgmt\/kustomization\.yaml/);
        assert.deepEqual(fs.readdirSync(path.join(dir, "clusters/local")), ["mgmt"], "nothing written on refusal");
        assert.deepEqual(fs.readdirSync(path.join(dir, "clusters/local/mgmt")), ["kustomization.yaml"]);
        fs.rmSync(path.join(dir, "clusters"), { recursive: true });
        const check = syncFleetDirectory(dir, spec, files, true);
        assert.equal(check.written.length, files.size);
        assert.ok(!fs.existsSync(path.join(dir, "clusters")), "--check writes nothing");
    });

    it("refuses paths outside clusters/<env>/", () => {
        assert.throws(() => syncFleetDirectory(dir, { environment: "local", flux: localSpec().flux }, new Map([["clusters/staging/x.yaml", "x"]])), /outside clusters\/local\//);
    });

    it("parses its command line", () => {
        assert.deepEqual(parseArgs(["local", "--out", "/tmp/x"]), { stack: "local", outDir: "/tmp/x", check: false });
        assert.equal(parseArgs(["staging", "--check"]).check, true);
        assert.equal(parseArgs(["local"]).outDir, path.resolve(__dirname, "../.."));
    });
});

describe("the committed render against the configuration (preview warnings)", () => {
    const spec = localSpec();
    const fresh = renderFleetRepository(spec);
    const fix = "npm run render -- local";

    it("says nothing when the committed render is what the configuration renders", () => {
        assert.deepEqual(renderDriftWarnings(spec, fresh, new Map(fresh), "this repository", fix), []);
    });

    it("names the files that differ and the command that fixes them", () => {
        const committed = new Map(fresh);
        committed.set("clusters/local/mgmt/module-cni.yaml", `${fresh.get("clusters/local/mgmt/module-cni.yaml")}# edited\n`);
        committed.delete("clusters/local/dev/cluster-settings.yaml");
        const [warning, ...rest] = renderDriftWarnings(spec, fresh, committed, "this repository", fix);
        assert.deepEqual(rest, []);
        assert.match(warning, /clusters\/local\/ in this repository is not what the stack configuration renders \(clusters\/local\/mgmt\/module-cni\.yaml, clusters\/local\/dev\/cluster-settings\.yaml\)/);
        assert.ok(warning.includes("run `npm run render -- local` and commit"), warning);
    });

    it("spells out what committing a module's removal does: Flux prunes it, a HelmChartProxy uninstalls its release everywhere it selects", () => {
        const committed = new Map(fresh);
        committed.set("clusters/local/mgmt/module-ingress.yaml", `${generatedHeader(spec)}kind: HelmChartProxy\n`);
        const warnings = renderDriftWarnings(spec, fresh, committed, "this repository", fix);
        assert.equal(warnings.length, 2);
        assert.match(warnings[1], /^bootstrap module 'ingress' is no longer configured but is still in the committed render \(clusters\/local\/mgmt\/module-ingress\.yaml\): committing the render makes Flux prune it\./);
        assert.match(warnings[1], /uninstalls its release from every cluster it selects/);
    });

    it("says where no render is committed at all", () => {
        assert.deepEqual(renderDriftWarnings(spec, fresh, new Map(), "the checkout ../fleet", "npm run render -- local --out ../fleet"), [
            "fleet repository: no committed render of local in the checkout ../fleet (clusters/local/): run `npm run render -- local --out ../fleet` and commit it; Flux on the management cluster syncs that folder.",
        ]);
    });
});
