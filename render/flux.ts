// Flux on a cluster through the Flux Operator: the FluxInstance (management cluster), the values of the
// same instance for downstream clusters (flux-instance chart), the settings ConfigMap used for
// `postBuild.substituteFrom`, the secrets the sync needs, and the pinned operator chart. Pure.
//
// `flux install` semantics, not `flux bootstrap`: the cluster only reads the fleet repository
// (`sync.pullSecret` holds read-only credentials), nothing writes to it.
import type { ClusterSpec, EnvironmentSpec, GitCredentials } from "../stacks/spec";
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

/**
 * `kustomize.patches` of every FluxInstance we render: the Kustomization generated for `sync` gets SOPS
 * decryption with the `sops-age` Secret (when the environment has an age key) and substitution from the
 * `cluster-settings` ConfigMap. The target form (`kind: Kustomization`, no namespace) is the one of the
 * flux-operator customization guide ("Cluster sync SOPS decryption").
 */
export function fluxSyncPatches(env: Pick<EnvironmentSpec, "secrets">): Array<{ target: { kind: string }; patch: string }> {
    const ops: unknown[] = [];
    if (env.secrets.sopsAgeKey) {
        ops.push({ op: "add", path: "/spec/decryption", value: { provider: "sops", secretRef: { name: sopsAgeSecretName } } });
    }
    ops.push({ op: "add", path: "/spec/postBuild", value: { substituteFrom: [{ kind: "ConfigMap", name: clusterSettingsName }] } });
    return [{ target: { kind: "Kustomization" }, patch: dumpYaml(ops) }];
}

/**
 * The FluxInstance spec shared by the management cluster's FluxInstance and the flux-instance chart
 * values of downstream clusters; only the sync path differs.
 */
export function fluxInstanceSpec(env: Omit<EnvironmentSpec, "bootstrapModules">, syncPath: string): Record<string, unknown> {
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
            kind: "GitRepository",
            url: env.flux.repositoryUrl,
            ref: `refs/heads/${env.flux.branch}`,
            path: syncPath,
            name: env.flux.syncName,
            ...(env.secrets.gitCredentials ? { pullSecret: gitSecretName } : {}),
        },
        kustomize: { patches: fluxSyncPatches(env) },
    };
}

/** How long Pulumi waits for the FluxInstance to become Ready (controllers rolled out, sync applied). */
export const fluxInstanceTimeoutSeconds = 600;

/** The FluxInstance `flux` of the permanent management cluster, syncing its path of the fleet repository. */
export function renderFluxInstance(env: EnvironmentSpec): K8sObject {
    return {
        apiVersion: "fluxcd.controlplane.io/v1",
        kind: "FluxInstance",
        metadata: {
            name: fluxInstanceName,
            namespace: fluxNamespace,
            annotations: {
                "fluxcd.controlplane.io/reconcileEvery": "1h",
                "fluxcd.controlplane.io/reconcileArtifactEvery": "10m",
                "fluxcd.controlplane.io/reconcileTimeout": "5m",
                "pulumi.com/waitFor": "condition=Ready",
                "pulumi.com/timeoutSeconds": String(fluxInstanceTimeoutSeconds),
            },
        },
        spec: fluxInstanceSpec(env, env.managementCluster.fluxPath),
    };
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
        FLEET_REPOSITORY: publicUrl(env.flux.repositoryUrl),
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
