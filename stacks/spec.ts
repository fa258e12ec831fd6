// The typed, validated description of one environment. Everything downstream of configuration
// (renderers, step scripts, components) consumes these types and nothing else: config → spec → objects.

export type InfrastructureProvider = "docker" | "aws";

/** Pinned versions, all `vMAJOR.MINOR.PATCH`. The same pins are used on the temporary and the permanent cluster. */
export interface Versions {
    /** Kubernetes of the management and workload clusters, e.g. `v1.33.4`. */
    kubernetes: string;
    /** Cluster API core, kubeadm bootstrap and kubeadm control-plane providers. */
    clusterApi: string;
    /** The infrastructure provider (`docker` = CAPD, released with Cluster API; `aws` = CAPA). */
    infrastructureProvider: string;
    /** Cluster API Helm add-on provider (CAAPH). */
    helmAddonProvider: string;
    /** Flux Operator Helm chart and its manifests artifact. */
    fluxOperator: string;
    /** Flux distribution installed by the FluxInstance. */
    fluxDistribution: string;
    /** Digest of the flux-operator-manifests artifact (`sha256:…`), pinning it beyond its tag; "" = tag only. */
    fluxArtifactDigest: string;
    /** CNI Helm chart (Cilium) delivered to every cluster. */
    cni: string;
    /**
     * AWS cloud-controller-manager image tag (provider aws only; its minor must match Kubernetes').
     * Optional: when unset, the `.0` release of the Kubernetes minor, e.g. `v1.33.0` for `v1.33.4`.
     */
    awsCloudControllerManager?: string;
}

export interface MachineSet {
    /** Number of machines (odd and >= 1 for control planes). */
    replicas: number;
    /** Provider machine type: an EC2 instance type on AWS; ignored by CAPD except as a label. */
    machineType: string;
}

export interface ClusterNetwork {
    podCidr: string;
    serviceCidr: string;
}

/** A cluster created through Cluster API: the permanent management cluster or a workload cluster. */
export interface ClusterSpec {
    name: string;
    /** Role in the fleet; becomes the `fleet-bootstrap.io/role` label. */
    role: "management" | "workload";
    /** Labels put on the Cluster API `Cluster` object (bootstrap modules select on them). Includes the fleet labels. */
    labels: Record<string, string>;
    controlPlane: MachineSet;
    workers: MachineSet;
    network: ClusterNetwork;
    /** Path in the fleet repository that Flux on this cluster syncs, e.g. `clusters/staging/blue`. */
    fluxPath: string;
}

export interface TemporaryClusterSpec {
    /** kind cluster name. */
    name: string;
    /** kind node image, pinned by digest: `kindest/node:v1.33.4@sha256:…`. */
    nodeImage: string;
}

export interface FluxSpec {
    /** Fleet repository URL (https:// or ssh://). */
    repositoryUrl: string;
    /** Folder of the repository holding `<environment>/<cluster>/` for every cluster, e.g. `clusters`. */
    clustersPath: string;
    branch: string;
    /** FluxInstance `spec.sync.name` (immutable upstream). */
    syncName: string;
    /** The previous sync name, given to rename the sync deliberately; "" otherwise. */
    syncRenameFrom: string;
    /** Flux components the FluxInstance installs. */
    components: string[];
    /**
     * Where the clusters sync from: `repository` (the fleet repository, `repositoryUrl`) or `local` (the
     * committed render of this environment, served as an OCI artifact by a registry container on the
     * kind network of this machine; no outside Git).
     */
    source: "repository" | "local";
    /** Checkout of the fleet repository holding the committed render, relative to the project; "" = this repository. */
    checkout: string;
    /** Where the program installs the Flux Operator chart from (a mirror or local chart); "" = upstream. */
    operatorBootstrapChart: string;
}

export interface AwsSpec {
    region: string;
    /** EC2 key pair name for SSH, or "" for none. */
    sshKeyName: string;
    /** Reuse the clusterawsadm IAM that already exists in the account instead of creating it. */
    reuseExistingIam: boolean;
    /** Give the CAPA controller on the permanent cluster static credentials (off: instance profile). */
    staticCredentialsOnPermanent: boolean;
    /** Take the bootstrap credentials from the caller's environment instead of the `awsCredentials` secret. */
    credentialsFromEnvironment: boolean;
}

export interface HelmChartContent {
    kind: "helm";
    repoURL: string;
    chartName: string;
    version: string;
    releaseName: string;
    namespace: string;
    /** Go template over `.Cluster`, `.ControlPlane`, `.InfraCluster` (CAAPH `valuesTemplate`). */
    valuesTemplate: string;
    reconcileStrategy: "Continuous" | "InstallOnce";
}

export interface ManifestsContent {
    kind: "manifests";
    /** YAML documents (already read from the repository or produced by code). */
    documents: string;
    /** Where they came from, for messages (a repository path or "inline"). */
    source: string;
    strategy: "Reconcile" | "ApplyOnce";
}

/** Secrets a downstream cluster needs; values come from the environment's Pulumi secrets. */
export interface SecretsContent {
    kind: "secrets";
    /** Which environment secrets to deliver, as Secrets in `flux-system` downstream. */
    include: Array<"gitCredentials" | "sopsAgeKey">;
}

export type ModuleContent = HelmChartContent | ManifestsContent | SecretsContent;

export interface BootstrapModuleSpec {
    name: string;
    /** Label selector over Cluster API `Cluster` objects in the clusters' namespace; never empty. */
    selector: Record<string, string>;
    content: ModuleContent;
}

/** Names of the environment's secret config keys; values travel separately as Pulumi secrets. */
export interface SecretPresence {
    sopsAgeKey: boolean;
    gitCredentials: boolean;
    awsCredentials: boolean;
}

export interface EnvironmentSpec {
    /** Environment name, e.g. `local`, `staging`. */
    environment: string;
    provider: InfrastructureProvider;
    versions: Versions;
    temporaryCluster: TemporaryClusterSpec;
    /** Namespace of every Cluster API object of the environment (clusters, modules, CRS). */
    clusterNamespace: string;
    managementCluster: ClusterSpec;
    workloadClusters: ClusterSpec[];
    flux: FluxSpec;
    bootstrapModules: BootstrapModuleSpec[];
    /** Present only when provider is `aws`. */
    aws?: AwsSpec;
    /** age public key the `clusterctl move` backup is encrypted to (when the age CLI is present); "" = none. */
    ageRecipient: string;
    /**
     * Path of a kubeconfig file of this environment's existing management cluster (e.g. released by
     * `pulumi destroy`) to adopt instead of bootstrapping: no kind, no move. "" = never adopt.
     */
    adoptExistingManagementCluster?: string;
    secrets: SecretPresence;
}

/** Secret values, kept apart from the spec so that the spec can be printed, rendered and compared freely. */
export interface GitCredentials {
    /** HTTPS basic auth. */
    username?: string;
    password?: string;
    /** SSH deploy key (read-only) and known_hosts. */
    identity?: string;
    knownHosts?: string;
}

export interface AwsCredentials {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
}

/** Labels every cluster of the fleet carries, and that default modules select on. */
export const fleetLabels = {
    environment: "fleet-bootstrap.io/environment",
    role: "fleet-bootstrap.io/role",
    cluster: "fleet-bootstrap.io/cluster",
} as const;
