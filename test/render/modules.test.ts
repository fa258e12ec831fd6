// Bootstrap modules: default modules, HelmChartProxy / ClusterResourceSet rendering, ConfigMap splitting,
// the CAAPH values templates, selection, and the management cluster's bootstrap objects.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";

import { renderClusterObjects } from "../../render/capi";
import { renderFluxInstance } from "../../render/flux";
import {
    awsCloudControllerManagerObjects,
    defaultBootstrapModules,
    defaultSplitLimitBytes,
    placeholderSecretValues,
    renderManagementBootstrap,
    renderModule,
    resourceSetSecretType,
    selectedClusters,
    splitIntoConfigMaps,
    splitYamlDocuments,
} from "../../render/modules";
import type { K8sObject } from "../../render/types";
import { parseYamlDocuments, toYaml } from "../../render/yaml";
import type { BootstrapModuleSpec, EnvironmentSpec, HelmChartContent } from "../../stacks/spec";
import { referenceFile } from "../fixtures/paths";
import { localSpec, stagingSpec } from "../fixtures/specs";
import { validateObjects, validateYaml } from "../support/validate";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The subset of Go text/template our values templates use, and nothing else: `{{ .a.b.c }}` and
 * `{{ index .a.b N }}` / `{{ index .a.b "key" }}`. Anything else throws, so the templates provably stay
 * in the subset this evaluator (and the test below) covers. Field names are those of the JSON objects,
 * as CAAPH exposes the Cluster to the template.
 */
function renderGoTemplate(template: string, data: Obj): string {
    const lookup = (path: string): unknown => {
        if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(path)) throw new Error(`unsupported template expression ${path}`);
        let node: unknown = data;
        for (const part of path.slice(1).split(".")) {
            if (node === null || typeof node !== "object") throw new Error(`template: ${path}: no field ${part}`);
            node = (node as Obj)[part];
        }
        return node;
    };
    const rendered = template.replace(/\{\{(.*?)\}\}/g, (_, raw: string) => {
        const expr = raw.trim();
        const index = /^index (\S+) (\d+|"[^"]*")$/.exec(expr);
        let value: unknown;
        if (index) {
            const collection = lookup(index[1]) as Obj;
            const key = index[2].startsWith('"') ? index[2].slice(1, -1) : Number(index[2]);
            if (collection === null || typeof collection !== "object" || !(key in collection)) throw new Error(`template: ${expr}: out of range`);
            value = collection[key as never];
        } else {
            value = lookup(expr);
        }
        if (typeof value !== "string" && typeof value !== "number") throw new Error(`template: ${expr} is not a scalar`);
        return String(value);
    });
    if (rendered.includes("{{") || rendered.includes("}}")) throw new Error("template: unbalanced delimiters");
    return rendered;
}

function helmModule(env: EnvironmentSpec, name: string): BootstrapModuleSpec & { content: HelmChartContent } {
    const module = env.bootstrapModules.find((m) => m.name === name);
    assert.ok(module && module.content.kind === "helm", `no helm module ${name}`);
    return module as BootstrapModuleSpec & { content: HelmChartContent };
}

function clusterObject(env: EnvironmentSpec, name: string): Obj {
    const cluster = [env.managementCluster, ...env.workloadClusters].find((c) => c.name === name)!;
    return renderClusterObjects(env, cluster).find((o) => o.kind === "Cluster") as Obj;
}

describe("defaultBootstrapModules", () => {
    it("gives every environment the CNI and Flux, plus Flux's secrets when it has any and the CCM on AWS", () => {
        assert.deepEqual(localSpec().bootstrapModules.map((m) => m.name), ["cni", "flux-operator", "flux-instance"]);
        assert.deepEqual(localSpec({ sopsAgeKey: true }).bootstrapModules.map((m) => m.name), ["cni", "flux-operator", "flux-instance", "flux-secrets"]);
        assert.deepEqual(stagingSpec().bootstrapModules.map((m) => m.name), [
            "cni",
            "cloud-controller-manager",
            "flux-operator",
            "flux-instance",
            "flux-secrets",
        ]);
    });

    it("selects every cluster for the CNI, workload clusters only for Flux (the management cluster gets it from Pulumi)", () => {
        const env = stagingSpec({ workloads: ["blue", "green"] });
        const selected = Object.fromEntries(env.bootstrapModules.map((m) => [m.name, selectedClusters(env, m)]));
        assert.deepEqual(selected, {
            cni: ["mgmt", "blue", "green"],
            "cloud-controller-manager": ["mgmt", "blue", "green"],
            "flux-operator": ["blue", "green"],
            "flux-instance": ["blue", "green"],
            "flux-secrets": ["blue", "green"],
        });
        for (const m of env.bootstrapModules) assert.ok(Object.keys(m.selector).length > 0, `${m.name}: empty selector`);
        assert.deepEqual(selectedClusters(env, { ...env.bootstrapModules[0], selector: { "fleet-bootstrap.io/environment": "prod" } }), []);
    });

    it("pins every chart exactly, from the upstream repositories", () => {
        const env = stagingSpec();
        const charts = ["cni", "flux-operator", "flux-instance"].map((name) => {
            const { repoURL, chartName, version, releaseName, namespace } = helmModule(env, name).content;
            return { repoURL, chartName, version, releaseName, namespace };
        });
        assert.deepEqual(charts, [
            { repoURL: "https://helm.cilium.io/", chartName: "cilium", version: "1.18.3", releaseName: "cilium", namespace: "kube-system" },
            { repoURL: "oci://ghcr.io/controlplaneio-fluxcd/charts", chartName: "flux-operator", version: "0.58.1", releaseName: "flux-operator", namespace: "flux-system" },
            { repoURL: "oci://ghcr.io/controlplaneio-fluxcd/charts", chartName: "flux-instance", version: "0.58.1", releaseName: "flux-instance", namespace: "flux-system" },
        ]);
    });

    it("renders every default module into objects that validate, in the clusters' namespace, resources before their CRS", () => {
        for (const env of [localSpec({ sopsAgeKey: true, gitCredentials: true }), stagingSpec()]) {
            for (const module of env.bootstrapModules) {
                const objects = renderModule(env, module, placeholderSecretValues(env));
                assert.deepEqual(validateObjects(objects), [], `${env.environment}/${module.name}`);
                for (const o of objects) assert.equal(o.metadata.namespace, env.clusterNamespace);
                const crs = objects.find((o) => o.kind === "ClusterResourceSet") as Obj | undefined;
                if (crs) {
                    assert.equal(objects[objects.length - 1], crs);
                    for (const r of crs.spec.resources) assert.ok(objects.some((o) => o.kind === r.kind && o.metadata.name === r.name));
                    assert.equal(crs.spec.strategy, "Reconcile");
                }
            }
        }
    });
});

describe("the Flux values template (CAAPH valuesTemplate)", () => {
    const env = stagingSpec({ workloads: ["blue", "green"] });
    const template = helmModule(env, "flux-instance").content.valuesTemplate;

    it("renders for two clusters, each syncing its own path, everything else equal to the management FluxInstance", () => {
        const values = ["blue", "green"].map((name) => parseYamlDocuments(renderGoTemplate(template, { Cluster: clusterObject(env, name) }))[0] as Obj);
        assert.equal(values[0].instance.sync.path, "clusters/staging/blue");
        assert.equal(values[1].instance.sync.path, "clusters/staging/green");
        const management = renderFluxInstance(env).spec as Obj;
        for (const [i, v] of values.entries()) {
            assert.equal(v.instance.sync.path, env.workloadClusters[i].fluxPath);
            assert.deepEqual(v.instance, { ...management, sync: { ...management.sync, path: env.workloadClusters[i].fluxPath } });
        }
        assert.equal(values[0].instance.sync.pullSecret, "flux-system");
        // The chart turns `instance` into the FluxInstance spec: it must validate like ours.
        const asInstance = { apiVersion: "fluxcd.controlplane.io/v1", kind: "FluxInstance", metadata: { name: "flux", namespace: "flux-system" }, spec: values[0].instance };
        assert.deepEqual(validateObjects([asInstance]), []);
    });

    it("renders the Cilium pod CIDR of each cluster", () => {
        const local = localSpec({ workloads: ["dev", "qa"] });
        const cni = helmModule(local, "cni").content.valuesTemplate;
        for (const cluster of [local.managementCluster, ...local.workloadClusters]) {
            const values = parseYamlDocuments(renderGoTemplate(cni, { Cluster: clusterObject(local, cluster.name) }))[0] as Obj;
            assert.deepEqual(values.ipam, { mode: "cluster-pool", operator: { clusterPoolIPv4PodCIDRList: [cluster.network.podCidr] } });
        }
    });

    it("keeps every default template within the evaluated subset", () => {
        for (const spec of [localSpec(), stagingSpec()]) {
            for (const m of spec.bootstrapModules) {
                if (m.content.kind !== "helm") continue;
                assert.doesNotThrow(() => renderGoTemplate(m.content.kind === "helm" ? m.content.valuesTemplate : "", { Cluster: clusterObject(spec, spec.managementCluster.name) }), m.name);
            }
        }
        assert.throws(() => renderGoTemplate("{{ .Cluster.metadata.name | upper }}", { Cluster: {} }), /unsupported/);
    });
});

describe("renderModule", () => {
    const env = localSpec({ sopsAgeKey: true, gitCredentials: true });

    it("renders a helm module as one HelmChartProxy", () => {
        const [hcp] = renderModule(env, helmModule(env, "flux-instance")) as Obj[];
        assert.equal(hcp.kind, "HelmChartProxy");
        assert.equal(hcp.apiVersion, "addons.cluster.x-k8s.io/v1alpha1");
        assert.deepEqual(hcp.spec.clusterSelector, { matchLabels: { "fleet-bootstrap.io/environment": "local", "fleet-bootstrap.io/role": "workload" } });
        assert.equal(hcp.spec.reconcileStrategy, "Continuous");
        assert.equal(hcp.spec.version, "0.58.1");
    });

    it("renders secrets as a resource-set Secret holding the downstream Namespace and Secrets, plus its CRS", () => {
        const module = env.bootstrapModules.find((m) => m.name === "flux-secrets")!;
        const values = { sopsAgeKey: "AGE-SECRET-KEY-1FAKE", git: { username: "git", password: "fake-token" } };
        const [secret, crs] = renderModule(env, module, values) as Obj[];
        assert.equal(secret.type, resourceSetSecretType);
        assert.deepEqual(crs.spec.resources, [{ kind: "Secret", name: "flux-secrets" }]);
        const downstream = Buffer.from(secret.data["flux-secrets.yaml"], "base64").toString("utf8");
        assert.deepEqual(validateYaml(downstream), []);
        assert.deepEqual(
            (parseYamlDocuments(downstream) as Obj[]).map((o) => `${o.kind}/${o.metadata.name}`),
            ["Namespace/flux-system", "Secret/sops-age", "Secret/flux-system"],
        );
        assert.ok(downstream.includes("fake-token"));
        // Values only ever come in through the parameter.
        assert.throws(() => renderModule(env, module), /secret values are required/);
        assert.throws(() => renderModule(env, module, { git: values.git }), /sopsAgeKey secret has no value/);
    });

    it("never renders an empty selector", () => {
        assert.throws(() => renderModule(env, { ...env.bootstrapModules[0], selector: {} }), /selector is empty/);
    });

    it("renders manifests as ConfigMaps plus a ClusterResourceSet, strategy as configured", () => {
        const module: BootstrapModuleSpec = {
            name: "extras",
            selector: { tier: "dev" },
            content: { kind: "manifests", documents: toYaml([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "extras" } }]), source: "inline", strategy: "ApplyOnce" },
        };
        const objects = renderModule(env, module) as Obj[];
        assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`), ["ConfigMap/extras-1", "ClusterResourceSet/extras"]);
        assert.equal(objects[1].spec.strategy, "ApplyOnce");
        assert.deepEqual(objects[1].spec.clusterSelector, { matchLabels: { tier: "dev" } });
        assert.deepEqual(validateObjects(objects), []);
    });

    it("delivers the AWS cloud-controller-manager exactly as CAPA's template does", () => {
        const template = parseYamlDocuments(fs.readFileSync(referenceFile("capa/cluster-template.yaml"), "utf8")) as Obj[];
        const addon = template.find((d) => d.kind === "ConfigMap" && d.metadata.name === "cloud-controller-manager-addon")!;
        const reference = parseYamlDocuments(addon.data["aws-ccm-external.yaml"]) as Obj[];
        const ours = awsCloudControllerManagerObjects(stagingSpec()) as Obj[];
        const image = (docs: Obj[]) => docs[0].spec.template.spec.containers[0].image as string;
        assert.equal(image(ours), "registry.k8s.io/provider-aws/cloud-controller-manager:v1.33.0");
        assert.equal(image(reference).replace(/:\$\{.*\}$/, ""), image(ours).replace(/:[^:]+$/, ""));
        reference[0].spec.template.spec.containers[0].image = image(ours);
        assert.deepEqual(ours, reference);
        assert.deepEqual(validateObjects(ours), []);
        const pinned = stagingSpec();
        pinned.versions.awsCloudControllerManager = "v1.33.2";
        assert.equal(image(awsCloudControllerManagerObjects(pinned) as Obj[]), "registry.k8s.io/provider-aws/cloud-controller-manager:v1.33.2");
    });
});

describe("splitIntoConfigMaps", () => {
    /** ~3 MiB of realistic manifests: 1,500 ConfigMaps of ~2 KiB each, with comments and odd separators. */
    function manifests(count: number, padding: number): string {
        const docs: string[] = [];
        for (let i = 0; i < count; i++) {
            docs.push(
                `# item ${i}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: item-${i}\n  namespace: demo\ndata:\n  payload: "${"x".repeat(padding)}"\n  multi: |\n    line one ${i}\n    line two\n`,
            );
        }
        return docs.map((d, i) => (i % 7 === 3 ? `--- # separator with a comment\n${d}` : `---\n${d}`)).join("");
    }

    it("splits a 3 MiB manifest set into ConfigMaps under 1 MiB whose union is the input", () => {
        const input = manifests(1500, 2000);
        assert.ok(Buffer.byteLength(input) > 3 * 1024 * 1024);
        const configMaps = splitIntoConfigMaps("big", "fleet", input) as Obj[];
        assert.ok(configMaps.length >= 4 && configMaps.length <= 5, `${configMaps.length} ConfigMaps`);
        assert.deepEqual(configMaps.map((c) => c.metadata.name), configMaps.map((_, i) => `big-${i + 1}`));
        for (const cm of configMaps) {
            const size = Object.entries(cm.data as Record<string, string>).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
            assert.ok(size <= defaultSplitLimitBytes && size < 1024 * 1024, `${cm.metadata.name}: ${size} bytes`);
            assert.equal(cm.metadata.namespace, "fleet");
        }
        assert.deepEqual(validateObjects(configMaps), []);
        const union = configMaps.map((c) => Object.values(c.data as Record<string, string>).join("---\n")).join("---\n");
        assert.deepEqual(parseYamlDocuments(union), parseYamlDocuments(input));
        assert.deepEqual(splitYamlDocuments(union), splitYamlDocuments(input), "document texts (comments included) are kept");
        assert.deepEqual(splitIntoConfigMaps("big", "fleet", input), configMaps, "deterministic");
    });

    it("counts exactly: the key, each document, separators and the final newline", () => {
        const input = "a: 1\n---\nb: 2\n---\nc: 3\n";
        const size = (cm: Obj) => Object.entries(cm.data as Record<string, string>).reduce((n, [k, v]) => n + k.length + v.length, 0);
        const fits28 = splitIntoConfigMaps("m", "ns", input, 28) as Obj[];
        assert.deepEqual(fits28.map((c) => c.data["manifests.yaml"]), ["a: 1\n---\nb: 2\n", "c: 3\n"]);
        assert.deepEqual(fits28.map(size), [28, 19]);
        assert.equal(splitIntoConfigMaps("m", "ns", input, 27).length, 3);
    });

    it("names the document that does not fit in one ConfigMap", () => {
        const input = manifests(3, 10) + `---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  a: "${"y".repeat(2000)}"\n`;
        assert.throws(() => splitIntoConfigMaps("m", "fleet", input, 1500, "addons/huge.yaml"), /addons\/huge\.yaml document 4 \(ConfigMap\/huge\) is \d+ bytes, over the 1500-byte limit/);
    });

    it("refuses more than 100 ConfigMaps for one ClusterResourceSet", () => {
        assert.throws(() => splitIntoConfigMaps("m", "fleet", manifests(101, 400), 600), /needs 101 ConfigMaps .* at most 100/);
    });

    it("rejects invalid YAML and empty input", () => {
        assert.throws(() => splitIntoConfigMaps("m", "fleet", "a: [unclosed\n"), /not valid YAML/);
        assert.throws(() => splitIntoConfigMaps("m", "fleet", "# only a comment\n---\n"), /no YAML documents/);
    });
});

describe("renderManagementBootstrap", () => {
    for (const env of [localSpec(), stagingSpec()]) {
        it(`(${env.provider}) creates the namespace, the management cluster and its add-ons, all valid`, () => {
            const objects = renderManagementBootstrap(env) as Obj[];
            assert.deepEqual(validateObjects(objects), []);
            assert.deepEqual(objects[0], { apiVersion: "v1", kind: "Namespace", metadata: { name: env.clusterNamespace } });
            assert.deepEqual(objects.slice(1, 8), renderClusterObjects(env, env.managementCluster), "the same objects Git holds");
            const hcp = objects.find((o) => o.kind === "HelmChartProxy")!;
            assert.equal(hcp.metadata.name, "cni-bootstrap");
            const cni = helmModule(env, "cni").content;
            assert.equal(hcp.spec.valuesTemplate, cni.valuesTemplate, "same values as the cni module after the pivot");
            assert.equal(hcp.spec.version, cni.version);
            const selectors = objects.filter((o) => o.spec?.clusterSelector).map((o) => o.spec.clusterSelector.matchLabels);
            assert.equal(selectors.length, env.provider === "aws" ? 2 : 1);
            for (const s of selectors) {
                assert.deepEqual(selectedClusters(env, { name: "x", selector: s, content: cni }), [env.managementCluster.name]);
            }
            if (env.provider === "aws") assert.ok(objects.some((o) => o.kind === "ClusterResourceSet" && o.metadata.name === "cloud-controller-manager-bootstrap"));
        });
    }

    it("puts everything but the Namespace itself in the clusters' namespace", () => {
        const env = stagingSpec();
        const namespaces = new Set((renderManagementBootstrap(env) as K8sObject[]).slice(1).map((o) => o.metadata.namespace));
        assert.deepEqual([...namespaces], [env.clusterNamespace]);
    });

    it("also works for a spec whose configured modules do not include the defaults", () => {
        const env = { ...localSpec(), bootstrapModules: [] };
        assert.ok(renderManagementBootstrap(env).some((o) => o.kind === "HelmChartProxy"));
        assert.deepEqual(defaultBootstrapModules(env).map((m) => m.name), ["cni", "flux-operator", "flux-instance"]);
    });
});
