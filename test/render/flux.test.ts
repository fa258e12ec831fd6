// Flux on the permanent management cluster: FluxInstance, cluster-settings, secrets, operator chart.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";

import {
    fleetSource,
    fluxInstanceChart,
    fluxOperatorBootstrapChart,
    fluxOperatorChart,
    fluxOperatorReleaseName,
    fluxSyncPatches,
    renderClusterSettings,
    renderFluxInstance,
    renderFluxOperatorRelease,
    renderFluxSecrets,
} from "../../render/flux";
import { parseYamlDocuments } from "../../render/yaml";
import type { EnvironmentSpec } from "../../stacks/spec";
import { referenceFile } from "../fixtures/paths";
import { localSpec, stagingSpec } from "../fixtures/specs";
import { validateObject, validateObjects } from "../support/validate";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("renderFluxInstance", () => {
    const staging = stagingSpec();
    const instance = renderFluxInstance(staging) as Obj;

    it("validates against the flux-operator v0.58.1 CRD, for both environments", () => {
        assert.deepEqual(validateObject(instance), []);
        assert.deepEqual(validateObject(renderFluxInstance(localSpec())), []);
    });

    it("is named flux in flux-system, reconciled periodically, never pruned from Git, with nothing of Pulumi's in it", () => {
        assert.equal(instance.metadata.name, "flux");
        assert.equal(instance.metadata.namespace, "flux-system");
        assert.equal(instance.metadata.annotations["fluxcd.controlplane.io/reconcileEvery"], "1h");
        assert.equal(instance.metadata.annotations["fluxcd.controlplane.io/reconcileTimeout"], "5m");
        assert.equal(instance.metadata.annotations["kustomize.toolkit.fluxcd.io/prune"], "disabled", "deleting it would remove Flux's CRDs and every Flux object");
        assert.deepEqual(Object.keys(instance.metadata.annotations).filter((key) => key.startsWith("pulumi.com/")), [], "Git holds it, not Pulumi");
    });

    it("pins the distribution exactly (version and manifests artifact), like the upstream sample but without ranges", () => {
        const sample = parseYamlDocuments(fs.readFileSync(referenceFile("flux-operator/fluxinstance-sample.yaml"), "utf8"))[0] as Obj;
        assert.equal(instance.spec.distribution.registry, sample.spec.distribution.registry);
        assert.equal(instance.spec.distribution.version, "2.9.0");
        assert.doesNotMatch(instance.spec.distribution.version, /[x*^~<>]/);
        assert.equal(instance.spec.distribution.artifact, "oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests:v0.58.1");
        assert.equal(instance.spec.distribution.artifact.replace(/:[^:]+$/, ""), sample.spec.distribution.artifact.replace(/:[^:]+$/, ""));
        assert.deepEqual(instance.spec.components, staging.flux.components);
        assert.deepEqual(instance.spec.cluster, { type: "kubernetes", networkPolicy: true, domain: "cluster.local" });
    });

    it("syncs the management cluster's path of the fleet repository, with an explicit sync name and the pull secret", () => {
        assert.deepEqual(instance.spec.sync, {
            kind: "GitRepository",
            url: staging.flux.repositoryUrl,
            ref: "refs/heads/main",
            path: "clusters/staging/mgmt",
            name: "fleet",
            pullSecret: "flux-system",
        });
        const local = renderFluxInstance(localSpec({ source: "repository" })) as Obj;
        assert.equal(local.spec.sync.pullSecret, undefined, "no credentials, no pull secret");
    });

    it("syncs the local fleet source (fleetSource: local) as a plain-HTTP OCIRepository on the kind network, never with Git credentials", () => {
        const local = renderFluxInstance(localSpec({ gitCredentials: true })) as Obj;
        assert.deepEqual(local.spec.sync, {
            kind: "OCIRepository",
            url: "oci://fleet-local-source:5000/fleet-local",
            ref: "latest",
            path: "clusters/local/mgmt",
            name: "fleet",
        });
        const patches = local.spec.kustomize.patches as Array<{ target: { kind: string }; patch: string }>;
        assert.deepEqual(patches.map((p) => p.target), [{ kind: "Kustomization" }, { kind: "OCIRepository" }]);
        assert.deepEqual(parseYamlDocuments(patches[1].patch)[0], [{ op: "add", path: "/spec/insecure", value: true }]);
        assert.deepEqual(validateObject(local), []);
    });

    it("patches the generated Kustomization with SOPS decryption and cluster-settings substitution", () => {
        const [patch] = instance.spec.kustomize.patches;
        assert.deepEqual(patch.target, { kind: "Kustomization" });
        assert.deepEqual(parseYamlDocuments(patch.patch)[0], [
            { op: "add", path: "/spec/decryption", value: { provider: "sops", secretRef: { name: "sops-age" } } },
            { op: "add", path: "/spec/postBuild", value: { substituteFrom: [{ kind: "ConfigMap", name: "cluster-settings" }] } },
        ]);
    });

    it("leaves decryption out without an age key", () => {
        const ops = parseYamlDocuments(fluxSyncPatches(localSpec()).map((p) => p.patch).join("---\n"))[0] as Obj[];
        assert.deepEqual(ops.map((op) => op.path), ["/spec/postBuild"]);
    });
});

describe("renderFluxOperatorRelease", () => {
    const [source, release] = renderFluxOperatorRelease(stagingSpec()) as Obj[];

    it("is a HelmRelease of the operator chart from an OCIRepository pinned to the program's chart version, valid against the Flux CRDs", () => {
        assert.deepEqual(validateObjects([source, release]), []);
        const chart = fluxOperatorChart(stagingSpec());
        assert.equal(`${source.spec.url}`, `${chart.repo}/${chart.chart}`);
        assert.deepEqual(source.spec.ref, { tag: chart.version }, "an exact tag, never a semver range");
        assert.equal(source.spec.layerSelector.mediaType, "application/vnd.cncf.helm.chart.content.v1.tar+gzip");
        assert.deepEqual(release.spec.chartRef, { kind: "OCIRepository", name: source.metadata.name });
    });

    it("upgrades the release the program installed (same name and namespace) and is never pruned", () => {
        assert.equal(release.spec.releaseName, fluxOperatorReleaseName);
        for (const o of [source, release]) {
            assert.equal(o.metadata.namespace, "flux-system");
            assert.equal(o.metadata.annotations["kustomize.toolkit.fluxcd.io/prune"], "disabled");
        }
    });
});

describe("renderClusterSettings", () => {
    it("describes the cluster with no secret, for every cluster of both environments", () => {
        for (const spec of [localSpec(), stagingSpec()]) {
            for (const cluster of [spec.managementCluster, ...spec.workloadClusters]) {
                const settings = renderClusterSettings(spec, cluster) as Obj;
                assert.deepEqual(validateObject(settings), []);
                assert.equal(settings.metadata.name, "cluster-settings");
                assert.equal(settings.metadata.namespace, "flux-system");
                assert.equal(settings.data.CLUSTER_NAME, cluster.name);
                assert.equal(settings.data.CLUSTER_ROLE, cluster.role);
                assert.equal(settings.data.ENVIRONMENT, spec.environment);
                assert.equal(settings.data.FLEET_REPOSITORY, fleetSource(spec).url, "what the cluster syncs");
                assert.deepEqual(Object.keys(settings.data), [...Object.keys(settings.data)].sort());
            }
        }
        assert.equal((renderClusterSettings(stagingSpec(), stagingSpec().managementCluster) as Obj).data.AWS_REGION, "eu-west-1");
    });

    it("never carries a password put in the repository URL", () => {
        const spec: EnvironmentSpec = { ...localSpec(), flux: { ...localSpec().flux, repositoryUrl: "https://git:hunter2@example.com/fleet.git" } };
        const settings = renderClusterSettings(spec, spec.managementCluster) as Obj;
        assert.doesNotMatch(JSON.stringify(settings), /hunter2/);
    });
});

describe("renderFluxSecrets", () => {
    it("renders sops-age and an HTTPS git secret as stringData", () => {
        const secrets = renderFluxSecrets({ sopsAgeKey: "AGE-SECRET-KEY-1TEST", git: { username: "git", password: "token" } }) as Obj[];
        assert.deepEqual(validateObjects(secrets), []);
        assert.deepEqual(
            secrets.map((s) => [s.metadata.namespace, s.metadata.name, s.stringData]),
            [
                ["flux-system", "sops-age", { "age.agekey": "AGE-SECRET-KEY-1TEST" }],
                ["flux-system", "flux-system", { username: "git", password: "token" }],
            ],
        );
    });

    it("renders an SSH deploy key with known_hosts, in another namespace when asked", () => {
        const [secret] = renderFluxSecrets({ git: { identity: "-----BEGIN OPENSSH PRIVATE KEY-----\n…", knownHosts: "github.com ssh-ed25519 AAAA" } }, "other") as Obj[];
        assert.equal(secret.metadata.namespace, "other");
        assert.deepEqual(Object.keys(secret.stringData), ["identity", "known_hosts"]);
    });

    it("renders nothing without values, and refuses incomplete credentials", () => {
        assert.deepEqual(renderFluxSecrets({}), []);
        assert.throws(() => renderFluxSecrets({ git: { identity: "key" } }), /identity and knownHosts/);
        assert.throws(() => renderFluxSecrets({ git: { username: "git" } }), /username and password/);
        assert.throws(() => renderFluxSecrets({ sopsAgeKey: "" }), /empty/);
    });
});

describe("fluxOperatorChart", () => {
    it("pins the operator chart to the operator version, from the controlplaneio OCI repository", () => {
        assert.deepEqual(fluxOperatorChart(localSpec()), {
            repo: "oci://ghcr.io/controlplaneio-fluxcd/charts",
            chart: "flux-operator",
            version: "0.58.1",
            values: {},
        });
        assert.deepEqual(fluxInstanceChart(localSpec()), { repo: "oci://ghcr.io/controlplaneio-fluxcd/charts", chart: "flux-instance", version: "0.58.1" });
    });

    it("installs from the upstream chart unless the stack names a mirror or a local chart", () => {
        assert.deepEqual(fluxOperatorBootstrapChart(localSpec()), fluxOperatorChart(localSpec()));
        const mirrored = localSpec();
        mirrored.flux.operatorBootstrapChart = "/srv/charts/flux-operator-0.58.1.tgz";
        assert.deepEqual(fluxOperatorBootstrapChart(mirrored), { repo: "/srv/charts", chart: "flux-operator-0.58.1.tgz", version: "0.58.1", values: {} });
        mirrored.flux.operatorBootstrapChart = "oci://mirror.example/charts/flux-operator";
        assert.equal(fluxOperatorBootstrapChart(mirrored).repo, "oci://mirror.example/charts");
    });
});
