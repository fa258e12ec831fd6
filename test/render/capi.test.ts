// Cluster API objects of the management and workload clusters, for CAPD and CAPA.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";

import {
    awsInstanceProfiles,
    capdNodeImage,
    clusterNameLabel,
    pruneDisabledAnnotation,
    renderClusterObjects,
    renderKindConfig,
} from "../../render/capi";
import type { K8sObject } from "../../render/types";
import { parseYamlDocuments } from "../../render/yaml";
import type { EnvironmentSpec } from "../../stacks/spec";
import { referenceFile } from "../fixtures/paths";
import { localSpec, stagingSpec } from "../fixtures/specs";
import { validateObjects } from "../support/validate";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function byKind(objects: K8sObject[], kind: string): Obj[] {
    return objects.filter((o) => o.kind === kind) as Obj[];
}

function one(objects: K8sObject[], kind: string, name?: string): Obj {
    const found = byKind(objects, kind).filter((o) => name === undefined || o.metadata.name === name);
    assert.equal(found.length, 1, `expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`);
    return found[0];
}

/** Every reference resolves to an object of the render (apiGroup, kind and name). */
function assertRefsResolve(objects: K8sObject[]): void {
    const refs: Array<{ apiGroup: string; kind: string; name: string }> = [];
    const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === "object") {
            const n = node as Obj;
            if (typeof n.apiGroup === "string" && typeof n.kind === "string" && typeof n.name === "string") refs.push(n as never);
            Object.values(n).forEach(walk);
        }
    };
    objects.forEach((o) => walk(o.spec));
    assert.ok(refs.length >= 5);
    for (const ref of refs) {
        const target = objects.find((o) => o.apiVersion.split("/")[0] === ref.apiGroup && o.kind === ref.kind && o.metadata.name === ref.name);
        assert.ok(target, `dangling reference ${ref.apiGroup} ${ref.kind} ${ref.name}`);
    }
}

for (const [provider, spec] of [
    ["docker", localSpec()],
    ["aws", stagingSpec()],
] as Array<[string, EnvironmentSpec]>) {
    describe("CAPD node image", () => {
    it("is pinned by the kind node image's digest when both are the same Kubernetes version", () => {
        const digest = `sha256:${"0".repeat(64)}`;
        const same = { versions: { kubernetes: "v1.33.1" }, temporaryCluster: { name: "k", nodeImage: `kindest/node:v1.33.1@${digest}` } } as Parameters<typeof capdNodeImage>[0];
        assert.equal(capdNodeImage(same), `kindest/node:v1.33.1@${digest}`);
        const other = { versions: { kubernetes: "v1.34.0" }, temporaryCluster: { name: "k", nodeImage: `kindest/node:v1.33.1@${digest}` } } as Parameters<typeof capdNodeImage>[0];
        assert.equal(capdNodeImage(other), "kindest/node:v1.34.0");
    });
});

describe(`renderClusterObjects (${provider})`, () => {
        const mgmt = renderClusterObjects(spec, spec.managementCluster);
        const workload = renderClusterObjects(spec, spec.workloadClusters[0]);

        it("renders objects that validate against the upstream CRDs (served, non-deprecated v1beta2)", () => {
            assert.deepEqual(validateObjects([...mgmt, ...workload]), []);
            for (const o of [...mgmt, ...workload]) assert.match(o.apiVersion, /\/v1beta2$/);
        });

        it("renders the expected kinds, all in the clusters' namespace, all references resolving", () => {
            const infra = provider === "docker" ? ["DevCluster", "DevMachineTemplate"] : ["AWSCluster", "AWSMachineTemplate"];
            assert.deepEqual(
                mgmt.map((o) => o.kind),
                ["Cluster", infra[0], "KubeadmControlPlane", infra[1], "MachineDeployment", infra[1], "KubeadmConfigTemplate"],
            );
            for (const o of [...mgmt, ...workload]) assert.equal(o.metadata.namespace, spec.clusterNamespace);
            assertRefsResolve(mgmt);
            assertRefsResolve(workload);
        });

        it("takes sizes, network, versions and labels from the spec", () => {
            const cluster = one(workload, "Cluster");
            const w = spec.workloadClusters[0];
            assert.deepEqual(cluster.metadata.labels, w.labels);
            assert.deepEqual(cluster.spec.clusterNetwork.pods.cidrBlocks, [w.network.podCidr]);
            assert.deepEqual(cluster.spec.clusterNetwork.services.cidrBlocks, [w.network.serviceCidr]);
            const kcp = one(workload, "KubeadmControlPlane");
            assert.equal(kcp.spec.replicas, w.controlPlane.replicas);
            assert.equal(kcp.spec.version, spec.versions.kubernetes);
            const md = one(workload, "MachineDeployment");
            assert.equal(md.spec.replicas, w.workers.replicas);
            assert.equal(md.spec.clusterName, w.name);
            assert.equal(md.spec.template.spec.clusterName, w.name);
            assert.equal(md.spec.template.spec.version, spec.versions.kubernetes);
            // The selector matches the template labels (the Cluster API webhook rejects it otherwise).
            for (const [k, v] of Object.entries(md.spec.selector.matchLabels)) assert.equal(md.spec.template.metadata.labels[k], v);
            for (const o of workload.filter((x) => x.kind !== "Cluster")) assert.equal(o.metadata.labels?.[clusterNameLabel], w.name);
        });

        it("marks every object of the management cluster, and only those, prune: disabled", () => {
            for (const o of mgmt) assert.deepEqual(o.metadata.annotations, { ...pruneDisabledAnnotation }, `${o.kind} ${o.metadata.name}`);
            for (const o of workload) assert.equal(o.metadata.annotations, undefined, `${o.kind} ${o.metadata.name}`);
        });

        it("renames the worker machine template when its content changes (templates are immutable upstream)", () => {
            const changed: EnvironmentSpec = JSON.parse(JSON.stringify(spec));
            if (provider === "aws") changed.managementCluster.workers.machineType = "m6i.xlarge";
            else changed.versions.kubernetes = "v1.34.0"; // CAPD machines differ by node image only
            const templateRef = (objects: K8sObject[]) => one(objects, "MachineDeployment").spec.template.spec.infrastructureRef.name;
            assert.notEqual(templateRef(renderClusterObjects(changed, changed.managementCluster)), templateRef(mgmt));
            assert.deepEqual(renderClusterObjects(spec, spec.managementCluster), mgmt, "same spec, same objects");
        });
    });
}

describe("renderClusterObjects (docker): CAPD quick-start shapes", () => {
    const spec = localSpec();
    const objects = renderClusterObjects(spec, spec.managementCluster);

    it("mounts the Docker socket in every machine, so the cluster can host CAPD after the pivot", () => {
        const templates = byKind(objects, "DevMachineTemplate");
        assert.equal(templates.length, 2);
        for (const t of templates) {
            assert.deepEqual(t.spec.template.spec.backend.docker.extraMounts, [{ containerPath: "/var/run/docker.sock", hostPath: "/var/run/docker.sock" }]);
            assert.equal(t.spec.template.spec.backend.docker.customImage, capdNodeImage(spec));
            assert.ok(t.spec.template.spec.backend.docker.customImage.startsWith(`kindest/node:${spec.versions.kubernetes}`));
        }
    });

    it("carries the quick start's kubeadm settings (certSANs, kubelet eviction args on init and join)", () => {
        const qs = parseYamlDocuments(fs.readFileSync(referenceFile("capd/clusterclass-quick-start.yaml"), "utf8")) as Obj[];
        const qsKcp = qs.find((d) => d.kind === "KubeadmControlPlaneTemplate")!.spec.template.spec.kubeadmConfigSpec;
        const kcp = one(objects, "KubeadmControlPlane").spec.kubeadmConfigSpec;
        assert.deepEqual(kcp.clusterConfiguration.apiServer.certSANs, qsKcp.clusterConfiguration.apiServer.certSANs);
        assert.deepEqual(kcp.initConfiguration, qsKcp.initConfiguration);
        assert.deepEqual(kcp.joinConfiguration, qsKcp.joinConfiguration);
        const qsWorker = qs.find((d) => d.kind === "KubeadmConfigTemplate")!.spec.template.spec;
        assert.deepEqual(one(objects, "KubeadmConfigTemplate").spec.template.spec, qsWorker);
        const qsMachine = qs.find((d) => d.kind === "DevMachineTemplate")!.spec.template.spec.backend.docker;
        for (const t of byKind(objects, "DevMachineTemplate")) assert.deepEqual(t.spec.template.spec.backend.docker.extraMounts, qsMachine.extraMounts);
    });

    it("uses the docker backend of the non-deprecated Dev* kinds", () => {
        assert.deepEqual(one(objects, "DevCluster").spec, { backend: { docker: {} } });
        assert.equal(byKind(objects, "DockerCluster").length + byKind(objects, "DockerMachineTemplate").length, 0);
    });
});

/** The reference template's v1beta1 core objects in their v1beta2 form (refs by apiGroup, args as lists). */
function toV1beta2(node: unknown, key = ""): unknown {
    if (Array.isArray(node)) return node.map((n) => toV1beta2(n));
    if (!node || typeof node !== "object") return node;
    const n = node as Obj;
    if (typeof n.apiVersion === "string" && typeof n.kind === "string" && typeof n.name === "string" && !n.metadata) {
        return { apiGroup: n.apiVersion.split("/")[0], kind: n.kind, name: n.name };
    }
    if (key === "extraArgs" || key === "kubeletExtraArgs") return Object.entries(n).map(([name, value]) => ({ name, value }));
    const out: Obj = {};
    for (const [k, v] of Object.entries(n)) {
        if (k === "machineTemplate" && v.infrastructureRef) out[k] = { spec: { infrastructureRef: toV1beta2(v.infrastructureRef) } };
        else if (k === "selector" && v?.matchLabels === null) continue; // defaulted by the webhook; ours spells it out
        else out[k] = toV1beta2(v, k);
    }
    return out;
}

/** Every field of `expected` is in `actual` with the same value; template names may carry a hash suffix. */
function assertSubset(expected: unknown, actual: unknown, where: string): void {
    if (Array.isArray(expected)) {
        assert.ok(Array.isArray(actual), `${where}: expected a list`);
        assert.equal(actual.length, expected.length, `${where}: length`);
        expected.forEach((e, i) => assertSubset(e, actual[i], `${where}[${i}]`));
    } else if (expected && typeof expected === "object") {
        assert.ok(actual && typeof actual === "object", `${where}: expected an object`);
        for (const [k, v] of Object.entries(expected)) assertSubset(v, (actual as Obj)[k], `${where}.${k}`);
    } else if (typeof expected === "string" && typeof actual === "string" && where.endsWith(".name") && /-md-0$|-control-plane$/.test(expected)) {
        assert.match(actual, new RegExp(`^${expected}(-[0-9a-f]{8})?$`), where);
    } else {
        assert.equal(actual, expected, where);
    }
}

describe("renderClusterObjects (aws): CAPA template essentials", () => {
    const spec = stagingSpec();
    const mgmt = spec.managementCluster;
    const objects = renderClusterObjects(spec, mgmt);
    const variables: Record<string, string> = {
        CLUSTER_NAME: mgmt.name,
        AWS_REGION: spec.aws!.region,
        AWS_SSH_KEY_NAME: spec.aws!.sshKeyName,
        AWS_CONTROL_PLANE_MACHINE_TYPE: mgmt.controlPlane.machineType,
        AWS_NODE_MACHINE_TYPE: mgmt.workers.machineType,
        CONTROL_PLANE_MACHINE_COUNT: String(mgmt.controlPlane.replicas),
        WORKER_MACHINE_COUNT: String(mgmt.workers.replicas),
        KUBERNETES_VERSION: spec.versions.kubernetes,
    };
    const template = fs.readFileSync(referenceFile("capa/cluster-template.yaml"), "utf8");
    const reference = (parseYamlDocuments(template.replace(/\$\{(\w+)\}/g, (m, v: string) => variables[v] ?? m)) as Obj[]).filter(
        (d) => d.kind !== "ClusterResourceSet" && d.kind !== "ConfigMap",
    );

    it("has every object of the template, with every field of its spec (v1beta1 translated to v1beta2)", () => {
        assert.equal(reference.length, 7);
        for (const ref of reference) {
            const ours = byKind(objects, ref.kind).find((o) => o.metadata.name === ref.metadata.name || o.metadata.name.startsWith(`${ref.metadata.name}-`));
            assert.ok(ours, `no ${ref.kind} ${ref.metadata.name}`);
            assertSubset(toV1beta2(ref.spec), ours.spec, `${ref.kind} ${ref.metadata.name} spec`);
        }
    });

    it("uses the clusterawsadm instance profiles and tags every AWS resource with environment and cluster", () => {
        const [cp, workers] = byKind(objects, "AWSMachineTemplate");
        assert.equal(cp.spec.template.spec.iamInstanceProfile, awsInstanceProfiles.controlPlane);
        assert.equal(workers.spec.template.spec.iamInstanceProfile, awsInstanceProfiles.nodes);
        assert.deepEqual(one(objects, "AWSCluster").spec.additionalTags, {
            "fleet-bootstrap.io/cluster": mgmt.name,
            "fleet-bootstrap.io/environment": spec.environment,
        });
        assert.equal(one(objects, "AWSCluster").spec.region, "eu-west-1");
    });

    it("keeps an empty SSH key name (no key pair) rather than dropping it (CAPA would use 'default')", () => {
        const noKey: EnvironmentSpec = { ...spec, aws: { ...spec.aws!, sshKeyName: "" } };
        const rendered = renderClusterObjects(noKey, noKey.managementCluster);
        assert.equal(one(rendered, "AWSCluster").spec.sshKeyName, "");
        for (const t of byKind(rendered, "AWSMachineTemplate")) assert.equal(t.spec.template.spec.sshKeyName, "");
    });

    it("refuses an aws environment without aws settings", () => {
        assert.throws(() => renderClusterObjects({ ...spec, aws: undefined }, mgmt), /aws settings are missing/);
    });
});

describe("renderKindConfig", () => {
    it("mounts the Docker socket into kind for CAPD, with the pinned node image", () => {
        const spec = localSpec();
        const config = parseYamlDocuments(renderKindConfig(spec))[0] as Obj;
        assert.equal(config.apiVersion, "kind.x-k8s.io/v1alpha4");
        assert.equal(config.kind, "Cluster");
        assert.equal(config.name, spec.temporaryCluster.name);
        assert.deepEqual(config.nodes, [
            {
                role: "control-plane",
                image: spec.temporaryCluster.nodeImage,
                extraMounts: [{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }],
            },
        ]);
    });

    it("mounts nothing for CAPA", () => {
        const config = parseYamlDocuments(renderKindConfig(stagingSpec()))[0] as Obj;
        assert.equal(config.nodes[0].extraMounts, undefined);
    });
});
