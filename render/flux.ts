// Flux on a cluster through the Flux Operator: the FluxInstance (management cluster), the values of the
// same instance for downstream clusters (flux-instance chart), the settings ConfigMap used for
// `postBuild.substituteFrom`, the secrets the sync needs, and the pinned operator chart. Pure.
//
// `flux install` semantics, not `flux bootstrap`: the cluster only reads the fleet repository
// (`sync.pullSecret` holds read-only credentials), nothing writes to it.
import type { ClusterSpec, EnvironmentSpec, GitCredentials } from "../stacks/spec";
import { pruneDisabledAnnotation } from "./capi";
import type { K8sObject } from "./types";
import { dumpYaml, sortedRecord } from "./yaml";

export const fluxNamespace = "flux-system";
/** The only name the operator accepts (renaming removes the controllers, flux-operator#266). */
export const fluxInstanceName = "flux";
export const sopsAgeSecretName = "sops-age";
/** Key of the age private key in the `sops-age` Secret (kustomize-controller wants a `.agekey` suffix). */
export const sopsAgeSecretKey = "age.agekey";
/** Git credentials for `sync.pullSecret`, named like `flux bootstrap` names them. */
export const gitSecretName = "flux-system";
export const clusterSettingsName = "cluster-settings";

export const fluxChartRepository = "oci://ghcr.io/controlplaneio-fluxcd/charts";
export const fluxDistributionRegistry = "ghcr.io/fluxcd";
const fluxManifestsRepository = "oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests";

/** Helm chart versions and the Flux distribution version are semver without the `v` of our pins. */
export function withoutV(version: string): string {
    return version.replace(/^v/, "");
}

export interface HelmChartCoordinates {
    /** Helm repository (`oci://…` or `https://…`). */
    repo: string;
    chart: string;
    /** Exact chart version. */
    version: string;
    values: Record<string, unknown>;
}

/** Helm release name of the Flux Operator, for the program's install and Git's HelmRelease alike. */
export const fluxOperatorReleaseName = "flux-operator";

/** The Flux Operator chart, pinned to the operator version (the chart and operator are released together). */
export function fluxOperatorChart(env: Pick<EnvironmentSpec, "versions">): HelmChartCoordinates {
    return { repo: fluxChartRepository, chart: "flux-operator", version: withoutV(env.versions.fluxOperator), values: {} };
}

/**
 * The chart `pulumi up` installs the operator from before Flux runs: the upstream chart, or the mirror or
 * local chart the stack names (a machine without access to ghcr.io). Git names the upstream chart.
 */
export function fluxOperatorBootstrapChart(env: Pick<EnvironmentSpec, "versions" | "flux">): HelmChartCoordinates {
    const upstream = fluxOperatorChart(env);
    const location = env.flux.operatorBootstrapChart;
    if (!location) return upstream;
    const slash = location.lastIndexOf("/");
    return { ...upstream, repo: location.slice(0, slash), chart: location.slice(slash + 1) };
}

/** The flux-instance chart (same repository and version line as the operator chart). */
export function fluxInstanceChart(env: Pick<EnvironmentSpec, "versions">): Omit<HelmChartCoordinates, "values"> {
    return { repo: fluxChartRepository, chart: "flux-instance", version: withoutV(env.versions.fluxOperator) };
}

/** Port of the local fleet source's registry (the `registry` image's default). */
export const localSourcePort = 5000;
/** OCI tag the local fleet source serves the render under. */
export const localSourceTag = "latest";

/** Name (and DNS name on the kind network) of the registry container serving an environment's render. */
export function localSourceContainer(env: Pick<EnvironmentSpec, "environment">): string {
    return `fleet-${env.environment}-source`;
}

/** Registry (OCI distribution) image of the local fleet source; it runs on this machine, not in a cluster. */
export const localSourceRegistryImage = "registry:3.0.0";

/** The Flux CLI image that pushes the local fleet source's artifact: the environment's Flux version. */
export function fluxCliImage(env: Pick<EnvironmentSpec, "versions">): string {
    return `ghcr.io/fluxcd/flux-cli:${env.versions.fluxDistribution}`;
}

/** What every cluster of the environment syncs: the source kind, URL and ref of its FluxInstance. */
export interface FleetSource {
    kind: "GitRepository" | "OCIRepository";
    url: string;
    ref: string;
    /** Plain HTTP (the local registry on the kind network has no TLS). */
    insecure: boolean;
}

/**
 * The fleet repository (`refs/heads/<branch>`), or for `source: local` the environment's committed render
 * as an OCI artifact in the registry container on the kind network, which kind and CAPD nodes (and so the
 * pods on them) resolve by container name.
 */
export function fleetSource(env: Pick<EnvironmentSpec, "environment" | "flux">): FleetSource {
    if (env.flux.source === "local") {
        return { kind: "OCIRepository", url: `oci://${localSourceContainer(env)}:${localSourcePort}/fleet-${env.environment}`, ref: localSourceTag, insecure: true };
    }
    return { kind: "GitRepository", url: env.flux.repositoryUrl, ref: `refs/heads/${env.flux.branch}`, insecure: false };
}

/**
 * `kustomize.patches` of every FluxInstance we render: the Kustomization generated for `sync` gets SOPS
 * decryption with the `sops-age` Secret (when the environment has an age key) and substitution from the
 * `cluster-settings` ConfigMap; a plain-HTTP source gets `insecure`, which `sync` has no field for. The
 * target form (`kind: …`, no namespace) is the one of the flux-operator customization guide ("Cluster sync
 * SOPS decryption", "Cluster sync OCIRepository keyless verification").
 */
export function fluxSyncPatches(env: Pick<EnvironmentSpec, "environment" | "secrets" | "flux">): Array<{ target: { kind: string }; patch: string }> {
    const ops: unknown[] = [];
    if (env.secrets.sopsAgeKey) {
        ops.push({ op: "add", path: "/spec/decryption", value: { provider: "sops", secretRef: { name: sopsAgeSecretName } } });
    }
    ops.push({ op: "add", path: "/spec/postBuild", value: { substituteFrom: [{ kind: "ConfigMap", name: clusterSettingsName }] } });
    const patches = [{ target: { kind: "Kustomization" }, patch: dumpYaml(ops) }];
    const source = fleetSource(env);
    if (source.insecure) patches.push({ target: { kind: source.kind }, patch: dumpYaml([{ op: "add", path: "/spec/insecure", value: true }]) });
    return patches;
}

/**
 * The FluxInstance spec shared by the management cluster's FluxInstance and the flux-instance chart
 * values of downstream clusters; only the sync path differs.
 */
export function fluxInstanceSpec(env: Omit<EnvironmentSpec, "bootstrapModules">, syncPath: string): Record<string, unknown> {
    const source = fleetSource(env);
    return {
        distribution: {
            // Exact version, never a range: the environment's pin.
            version: withoutV(env.versions.fluxDistribution),
            registry: fluxDistributionRegistry,
            // Pinned: an unpinned artifact follows the operator image and has broken instances (fluxcd/flux2#5965).
            artifact: `${fluxManifestsRepository}:${env.versions.fluxOperator}${env.versions.fluxArtifactDigest ? `@${env.versions.fluxArtifactDigest}` : ""}`,
        },
        components: [...env.flux.components],
        cluster: { type: "kubernetes", networkPolicy: true, domain: "cluster.local" },
        sync: {
            kind: source.kind,
            url: source.url,
            ref: source.ref,
            path: syncPath,
            name: env.flux.syncName,
            // Git credentials are for the fleet repository; the local registry needs none.
            ...(env.secrets.gitCredentials && source.kind === "GitRepository" ? { pullSecret: gitSecretName } : {}),
        },
        kustomize: { patches: fluxSyncPatches(env) },
    };
}

/**
 * The FluxInstance `flux` of the permanent management cluster, syncing its path of the fleet repository,
 * exactly as the fleet repository holds it (self-managed: its own sync applies it, so the operator upgrades
 * Flux from Git). Never pruned: deleting it removes Flux's CRDs and every Flux object, so taking it out of
 * Git must not do that.
 */
export function renderFluxInstance(env: EnvironmentSpec): K8sObject {
    return {
        apiVersion: "fluxcd.controlplane.io/v1",
        kind: "FluxInstance",
        metadata: {
            name: fluxInstanceName,
            namespace: fluxNamespace,
            annotations: {
                "fluxcd.controlplane.io/reconcileArtifactEvery": "10m",
                "fluxcd.controlplane.io/reconcileEvery": "1h",
                "fluxcd.controlplane.io/reconcileTimeout": "5m",
                ...pruneDisabledAnnotation,
            },
        },
        spec: fluxInstanceSpec(env, env.managementCluster.fluxPath),
    };
}

/** Helm chart layer of an OCI chart artifact (what an OCIRepository copies for a HelmRelease `chartRef`). */
const helmChartLayer = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/**
 * The Flux Operator as Git holds it: an OCIRepository pinned to the operator's chart version and a
 * HelmRelease of it, as the operator's guide "Automating Flux Operator upgrades" does (with an exact tag
 * instead of a semver range). Same release name and namespace as the program's Helm install, so
 * helm-controller upgrades that release in place. Never pruned: uninstalling the operator from Git would
 * take Flux's upgrades (and the FluxInstance's controller) with it.
 */
export function renderFluxOperatorRelease(env: Pick<EnvironmentSpec, "versions">): K8sObject[] {
    const chart = fluxOperatorChart(env);
    const metadata = () => ({ name: chart.chart, namespace: fluxNamespace, annotations: { ...pruneDisabledAnnotation } });
    return [
        {
            apiVersion: "source.toolkit.fluxcd.io/v1",
            kind: "OCIRepository",
            metadata: metadata(),
            spec: {
                interval: "30m",
                url: `${chart.repo}/${chart.chart}`,
                layerSelector: { mediaType: helmChartLayer, operation: "copy" },
                ref: { tag: chart.version },
            },
        },
        {
            apiVersion: "helm.toolkit.fluxcd.io/v2",
            kind: "HelmRelease",
            metadata: metadata(),
            spec: {
                interval: "30m",
                releaseName: fluxOperatorReleaseName,
                serviceAccountName: chart.chart,
                chartRef: { kind: "OCIRepository", name: chart.chart },
                ...(Object.keys(chart.values).length > 0 ? { values: chart.values } : {}),
            },
        },
    ];
}

/** The repository URL without a password, should one have been put in it. */
function publicUrl(url: string): string {
    try {
        const parsed = new URL(url);
        if (!parsed.password) return url;
        parsed.password = "";
        return parsed.toString();
    } catch {
        return url; // scp-like `git@host:org/repo` has no password part
    }
}

/**
 * The `cluster-settings` ConfigMap (Flux `postBuild.substituteFrom`): facts about the cluster that
 * manifests in the fleet repository can use as `${CLUSTER_NAME}` etc. No secrets.
 */
export function renderClusterSettings(env: Omit<EnvironmentSpec, "bootstrapModules">, cluster: ClusterSpec): K8sObject {
    const data: Record<string, string> = {
        CLUSTER_NAME: cluster.name,
        CLUSTER_ROLE: cluster.role,
        CLUSTER_API_NAMESPACE: env.clusterNamespace,
        ENVIRONMENT: env.environment,
        FLEET_BRANCH: env.flux.branch,
        FLEET_REPOSITORY: publicUrl(fleetSource(env).url),
        FLUX_PATH: cluster.fluxPath,
        INFRASTRUCTURE_PROVIDER: env.provider,
        KUBERNETES_VERSION: env.versions.kubernetes,
        POD_CIDR: cluster.network.podCidr,
        SERVICE_CIDR: cluster.network.serviceCidr,
    };
    if (env.provider === "aws" && env.aws) data.AWS_REGION = env.aws.region;
    return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: clusterSettingsName, namespace: fluxNamespace },
        data: sortedRecord(data),
    };
}

export interface FluxSecretValues {
    sopsAgeKey?: string;
    git?: GitCredentials;
}

/** Secret data of the git pull secret: HTTPS basic auth or an SSH deploy key with known_hosts. */
export function gitSecretData(git: GitCredentials): Record<string, string> {
    if (git.identity !== undefined || git.knownHosts !== undefined) {
        if (!git.identity || !git.knownHosts) {
            throw new Error("git credentials: an SSH deploy key needs both identity and knownHosts");
        }
        return { identity: git.identity, known_hosts: git.knownHosts };
    }
    if (!git.username || !git.password) {
        throw new Error("git credentials: need username and password (HTTPS) or identity and knownHosts (SSH)");
    }
    return { username: git.username, password: git.password };
}

/**
 * The `sops-age` and `flux-system` (git) Secrets, each only when its value is given. Only ever called
 * with real values inside `Output.apply` (or with placeholders by the offline plan).
 */
export function renderFluxSecrets(values: FluxSecretValues, namespace = fluxNamespace): K8sObject[] {
    const secrets: K8sObject[] = [];
    if (values.sopsAgeKey !== undefined) {
        if (!values.sopsAgeKey) throw new Error("sopsAgeKey: the age key is empty");
        secrets.push({
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: sopsAgeSecretName, namespace },
            type: "Opaque",
            stringData: { [sopsAgeSecretKey]: values.sopsAgeKey },
        });
    }
    if (values.git !== undefined) {
        secrets.push({
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: gitSecretName, namespace },
            type: "Opaque",
            stringData: gitSecretData(values.git),
        });
    }
    return secrets;
}
