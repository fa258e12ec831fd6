// The validator must be able to fail: each known-bad object below is rejected for the right reason.
import * as assert from "node:assert/strict";

import { renderClusterObjects } from "../../render/capi";
import { renderFluxInstance } from "../../render/flux";
import type { K8sObject } from "../../render/types";
import { localSpec, stagingSpec } from "../fixtures/specs";
import { validateObject } from "../support/validate";

function clone<T>(value: T): T {
    return JSON.parse(JSON.stringify(value)) as T;
}

function find(objects: K8sObject[], kind: string): K8sObject {
    const found = objects.find((o) => o.kind === kind);
    assert.ok(found, `no ${kind}`);
    return clone(found);
}

function expectError(obj: unknown, pattern: RegExp): void {
    const errors = validateObject(obj);
    assert.ok(errors.some((e) => pattern.test(e)), `expected an error matching ${pattern}, got ${JSON.stringify(errors)}`);
}

describe("validateObject", () => {
    const local = localSpec();
    const capd = renderClusterObjects(local, local.managementCluster);
    const staging = stagingSpec();
    const capa = renderClusterObjects(staging, staging.managementCluster);

    it("accepts a valid custom resource and a valid core object", () => {
        assert.deepEqual(validateObject(find(capd, "Cluster")), []);
        assert.deepEqual(validateObject({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "b" }, data: { k: "v" } }), []);
    });

    it("rejects an unknown field where the schema does not preserve unknown fields", () => {
        const cluster = find(capd, "Cluster");
        (cluster.spec as Record<string, unknown>).controlPlane = { replicas: 1 };
        expectError(cluster, /^spec: unknown field "controlPlane"$/);
        const kcp = find(capd, "KubeadmControlPlane");
        ((kcp.spec as { kubeadmConfigSpec: Record<string, unknown> }).kubeadmConfigSpec.clusterConfiguration as Record<string, unknown>).kubernetesVersion = "v1.33.4";
        expectError(kcp, /spec\.kubeadmConfigSpec\.clusterConfiguration: unknown field "kubernetesVersion"/);
    });

    it("rejects a wrong type and a constraint violation", () => {
        const md = find(capd, "MachineDeployment");
        (md.spec as Record<string, unknown>).replicas = "1";
        expectError(md, /^spec\.replicas: must be integer$/);
        const kcp = find(capd, "KubeadmControlPlane");
        (kcp.spec as { version: string }).version = "";
        expectError(kcp, /^spec\.version: must NOT have fewer than 1 characters$/);
    });

    it("rejects the v1beta1 form of a v1beta2 reference (missing apiGroup, unknown apiVersion)", () => {
        const cluster = find(capd, "Cluster");
        (cluster.spec as Record<string, unknown>).infrastructureRef = { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta2", kind: "DevCluster", name: "mgmt" };
        expectError(cluster, /spec\.infrastructureRef: must have required property 'apiGroup'/);
        expectError(cluster, /spec\.infrastructureRef: unknown field "apiVersion"/);
    });

    it("rejects a version that is not served (CAPA v1beta1)", () => {
        const awsCluster = find(capa, "AWSCluster");
        awsCluster.apiVersion = "infrastructure.cluster.x-k8s.io/v1beta1";
        expectError(awsCluster, /version v1beta1 is not served/);
    });

    it("rejects a deprecated version or kind unless allowed (CAPD Docker*, core v1beta1)", () => {
        const dockerCluster = { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta2", kind: "DockerCluster", metadata: { name: "mgmt", namespace: "x" }, spec: {} };
        expectError(dockerCluster, /version v1beta2 is deprecated/);
        assert.deepEqual(validateObject(dockerCluster, { allowDeprecated: true }), []);
        const v1beta1 = { apiVersion: "cluster.x-k8s.io/v1beta1", kind: "Cluster", metadata: { name: "mgmt", namespace: "x" }, spec: {} };
        expectError(v1beta1, /version v1beta1 is deprecated/);
    });

    it("rejects versions and kinds that do not exist", () => {
        const cluster = find(capd, "Cluster");
        cluster.apiVersion = "cluster.x-k8s.io/v1alpha4";
        expectError(cluster, /version v1alpha4 does not exist/);
        expectError({ apiVersion: "cluster.x-k8s.io/v1beta2", kind: "Clutser", metadata: { name: "a" } }, /no CustomResourceDefinition for kind Clutser/);
        expectError({ apiVersion: "v1", kind: "ConfigMapp", metadata: { name: "a" } }, /unknown kind/);
        expectError({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "a" } }, /unknown kind/);
    });

    it("validates metadata as ObjectMeta", () => {
        const cluster = find(capd, "Cluster");
        cluster.metadata.name = "Mgmt_1";
        cluster.metadata.labels = { "fleet-bootstrap.io/": "x", ok: "not a valid value!" };
        (cluster.metadata as unknown as Record<string, unknown>).label = {};
        expectError(cluster, /metadata\.name: "Mgmt_1" is not a DNS-1123 subdomain/);
        expectError(cluster, /metadata\.labels: key "fleet-bootstrap.io\/": name part/);
        expectError(cluster, /metadata\.labels\["ok"\]: value/);
        expectError(cluster, /metadata: unknown field "label"/);
        expectError({ apiVersion: "v1", kind: "Namespace", metadata: { name: "a.b" } }, /not a DNS-1123 label/);
        expectError({ apiVersion: "v1", kind: "Namespace", metadata: { name: "a", namespace: "b" } }, /cluster-scoped/);
    });

    it("evaluates the CEL rules it knows (unique names, FluxInstance name)", () => {
        const kcp = find(capd, "KubeadmControlPlane");
        const reg = (kcp.spec as { kubeadmConfigSpec: { initConfiguration: { nodeRegistration: { kubeletExtraArgs: unknown[] } } } }).kubeadmConfigSpec
            .initConfiguration.nodeRegistration;
        reg.kubeletExtraArgs = [...reg.kubeletExtraArgs, ...reg.kubeletExtraArgs];
        expectError(kcp, /initConfiguration\.nodeRegistration\.kubeletExtraArgs: kubeletExtraArgs name must be unique/);
        const flux = clone(renderFluxInstance(local));
        flux.metadata.name = "flux-system";
        expectError(flux, /the only accepted name for a FluxInstance is 'flux'/);
    });

    it("checks core objects with kubernetes-models and the API server's data rules", () => {
        expectError({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, data: { k: 1 } }, /data\.k: must be string/);
        expectError({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, spec: {} }, /unknown field "spec"/);
        expectError({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, data: { "a/b": "x" } }, /key "a\/b"/);
        expectError({ apiVersion: "v1", kind: "Secret", metadata: { name: "a" }, data: { k: "not base64!" } }, /must be base64/);
        expectError({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, data: { k: "x".repeat(1024 * 1024 + 1) } }, /over the 1 MiB limit/);
    });
});
