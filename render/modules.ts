// Bootstrap modules: what every matching downstream cluster needs before it can sync itself (CNI, the
// Flux controllers and their sync configuration, their secrets), selected by labels on Cluster API
// `Cluster` objects and delivered by Cluster API's own add-on mechanisms on the management cluster:
// - helm content      → HelmChartProxy (CAAPH, addons.cluster.x-k8s.io/v1alpha1)
// - manifests content → ClusterResourceSet (addons.cluster.x-k8s.io/v1beta2) + ConfigMaps below 1 MiB
// - secrets content   → ClusterResourceSet + Secrets of type addons.cluster.x-k8s.io/resource-set
// Everything lives in the clusters' namespace (a CRS ignores resources and Clusters elsewhere). Pure.
import { fleetLabels, type BootstrapModuleSpec, type ClusterSpec, type EnvironmentSpec } from "../stacks/spec";
import { clusterLabels, renderClusterObjects } from "./capi";
import {
    fluxInstanceChart,
    fluxInstanceSpec,
    fluxNamespace,
    fluxOperatorChart,
    renderFluxSecrets,
    withoutV,
    type FluxSecretValues,
} from "./flux";
import type { K8sObject } from "./types";
import { dumpYaml, parseYamlDocuments, sortedRecord, toYaml } from "./yaml";

export const addonsGroup = "addons.cluster.x-k8s.io";
export const helmChartProxyApiVersion = `${addonsGroup}/v1alpha1`;
export const clusterResourceSetApiVersion = `${addonsGroup}/v1beta2`;
/** Secret type a ClusterResourceSet accepts (any other type: `ResourcesApplied=False`, `WrongSecretType`). */
export const resourceSetSecretType = `${addonsGroup}/resource-set`;

/** Label on every object a module renders. */
export const moduleLabel = "fleet-bootstrap.io/module";

/** Size limit of a ConfigMap or Secret (etcd / API server: 1 MiB of data). */
export const configMapMaxBytes = 1024 * 1024;
/** What a split ConfigMap may hold: the limit minus headroom for keys, metadata and managed fields. */
export const defaultSplitLimitBytes = configMapMaxBytes - 64 * 1024;
/** `ClusterResourceSet.spec.resources` holds at most 100 entries. */
export const maxResourcesPerClusterResourceSet = 100;

export const defaultModuleNames = {
    cni: "cni",
    cloudControllerManager: "cloud-controller-manager",
    fluxOperator: "flux-operator",
    fluxInstance: "flux-instance",
    fluxSecrets: "flux-secrets",
} as const;

const ciliumRepository = "https://helm.cilium.io/";

/** Every cluster of the environment. */
export function environmentSelector(env: Pick<EnvironmentSpec, "environment">): Record<string, string> {
    return { [fleetLabels.environment]: env.environment };
}

/** The environment's workload clusters (not the management cluster, which gets Flux from Pulumi). */
export function workloadSelector(env: Pick<EnvironmentSpec, "environment">): Record<string, string> {
    return sortedRecord({ [fleetLabels.environment]: env.environment, [fleetLabels.role]: "workload" });
}

/** One cluster of the environment, by name. */
export function clusterSelector(env: Pick<EnvironmentSpec, "environment">, clusterName: string): Record<string, string> {
    return sortedRecord({ [fleetLabels.environment]: env.environment, [fleetLabels.cluster]: clusterName });
}

/**
 * The path Flux on a workload cluster syncs, as a CAAPH values template. Workload clusters may come from
 * Git, not only from the stack, so the path is derived from the Cluster's name on the management cluster:
 * `<clustersPath>/<env>/<name>`, the path the configuration gives every declared cluster.
 */
export function workloadFluxPathTemplate(env: Pick<EnvironmentSpec, "environment" | "flux">): string {
    return `${env.flux.clustersPath}/${env.environment}/{{ .Cluster.metadata.name }}`;
}

/** The sync path of a workload cluster, i.e. what `workloadFluxPathTemplate` renders for it. */
export function workloadFluxPath(env: Pick<EnvironmentSpec, "environment" | "flux">, clusterName: string): string {
    return `${env.flux.clustersPath}/${env.environment}/${clusterName}`;
}

/** Cilium values: cluster-pool IPAM over the Cluster's first pod CIDR (the one kubeadm was given). */
export function ciliumValuesTemplate(): string {
    return dumpYaml({
        ipam: {
            mode: "cluster-pool",
            operator: { clusterPoolIPv4PodCIDRList: ["{{ index .Cluster.spec.clusterNetwork.pods.cidrBlocks 0 }}"] },
        },
    });
}

/** flux-instance chart values: the same FluxInstance as on the management cluster, syncing the cluster's own path. */
export function fluxInstanceValuesTemplate(env: Omit<EnvironmentSpec, "bootstrapModules">): string {
    return dumpYaml({ instance: fluxInstanceSpec(env, workloadFluxPathTemplate(env)) });
}

/** The AWS cloud-controller-manager image: the configured pin, else the `.0` release of the Kubernetes minor. */
export function awsCloudControllerManagerImage(env: Pick<EnvironmentSpec, "versions">): string {
    let tag = env.versions.awsCloudControllerManager;
    if (!tag) {
        const match = /^v(\d+)\.(\d+)\./.exec(env.versions.kubernetes);
        if (!match) throw new Error(`versions.kubernetes: ${JSON.stringify(env.versions.kubernetes)} is not vMAJOR.MINOR.PATCH`);
        tag = `v${match[1]}.${match[2]}.0`;
    }
    return `registry.k8s.io/provider-aws/cloud-controller-manager:${tag}`;
}

/**
 * The AWS cloud-controller-manager, exactly as CAPA's default template ships it (ConfigMap
 * `cloud-controller-manager-addon`, applied by its `crs-ccm` ClusterResourceSet): the clusters run with
 * `cloud-provider: external`, so without it nodes keep the `uninitialized` taint.
 */
export function awsCloudControllerManagerObjects(env: Pick<EnvironmentSpec, "versions">): K8sObject[] {
    const appLabel = { "k8s-app": "aws-cloud-controller-manager" };
    const controlPlaneRole = "node-role.kubernetes.io/control-plane";
    const core = (resources: string[], verbs: string[]) => ({ apiGroups: [""], resources, verbs });
    return [
        {
            apiVersion: "apps/v1",
            kind: "DaemonSet",
            metadata: { name: "aws-cloud-controller-manager", namespace: "kube-system", labels: { ...appLabel } },
            spec: {
                selector: { matchLabels: { ...appLabel } },
                updateStrategy: { type: "RollingUpdate" },
                template: {
                    metadata: { labels: { ...appLabel } },
                    spec: {
                        nodeSelector: { [controlPlaneRole]: "" },
                        tolerations: [
                            { key: "node.cloudprovider.kubernetes.io/uninitialized", value: "true", effect: "NoSchedule" },
                            { key: controlPlaneRole, effect: "NoSchedule" },
                        ],
                        affinity: {
                            nodeAffinity: {
                                requiredDuringSchedulingIgnoredDuringExecution: {
                                    nodeSelectorTerms: [{ matchExpressions: [{ key: controlPlaneRole, operator: "Exists" }] }],
                                },
                            },
                        },
                        serviceAccountName: "cloud-controller-manager",
                        containers: [
                            {
                                name: "aws-cloud-controller-manager",
                                image: awsCloudControllerManagerImage(env),
                                args: ["--v=2", "--cloud-provider=aws", "--use-service-account-credentials=true", "--configure-cloud-routes=false"],
                                resources: { requests: { cpu: "200m" } },
                            },
                        ],
                        hostNetwork: true,
                    },
                },
            },
        },
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "cloud-controller-manager", namespace: "kube-system" } },
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: { name: "cloud-controller-manager:apiserver-authentication-reader", namespace: "kube-system" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "extension-apiserver-authentication-reader" },
            subjects: [{ apiGroup: "", kind: "ServiceAccount", name: "cloud-controller-manager", namespace: "kube-system" }],
        },
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRole",
            metadata: { name: "system:cloud-controller-manager" },
            rules: [
                core(["events"], ["create", "patch", "update"]),
                core(["nodes"], ["*"]),
                core(["nodes/status"], ["patch"]),
                core(["services"], ["list", "patch", "update", "watch"]),
                core(["services/status"], ["list", "patch", "update", "watch"]),
                core(["serviceaccounts"], ["create", "get", "list", "watch"]),
                core(["persistentvolumes"], ["get", "list", "update", "watch"]),
                core(["configmaps"], ["list", "watch"]),
                core(["endpoints"], ["create", "get", "list", "watch", "update"]),
                { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create", "get", "list", "watch", "update"] },
                core(["serviceaccounts/token"], ["create"]),
            ],
        },
        {
            kind: "ClusterRoleBinding",
            apiVersion: "rbac.authorization.k8s.io/v1",
            metadata: { name: "system:cloud-controller-manager" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:cloud-controller-manager" },
            subjects: [{ apiGroup: "", kind: "ServiceAccount", name: "cloud-controller-manager", namespace: "kube-system" }],
        },
    ];
}

/**
 * The modules every environment gets:
 * - `cni`: Cilium on every cluster of the environment (the management cluster gets it the same way
 *   during bootstrap, see `renderManagementBootstrap`);
 * - `cloud-controller-manager` (aws only): every cluster of the environment;
 * - `flux-operator` + `flux-instance`: Flux on every workload cluster, syncing `clusters/<env>/<cluster>`
 *   (two charts, so two modules: a HelmChartProxy installs one chart);
 * - `flux-secrets` (when the environment has a git credential or an age key): their Secrets in
 *   `flux-system` on every workload cluster, before Flux syncs.
 */
export function defaultBootstrapModules(env: Omit<EnvironmentSpec, "bootstrapModules">): BootstrapModuleSpec[] {
    const modules: BootstrapModuleSpec[] = [
        {
            name: defaultModuleNames.cni,
            selector: environmentSelector(env),
            content: {
                kind: "helm",
                repoURL: ciliumRepository,
                chartName: "cilium",
                version: withoutV(env.versions.cni),
                releaseName: "cilium",
                namespace: "kube-system",
                valuesTemplate: ciliumValuesTemplate(),
                reconcileStrategy: "Continuous",
            },
        },
    ];
    if (env.provider === "aws") {
        modules.push({
            name: defaultModuleNames.cloudControllerManager,
            selector: environmentSelector(env),
            content: {
                kind: "manifests",
                documents: toYaml(awsCloudControllerManagerObjects(env)),
                source: "CAPA templates/cluster-template.yaml (cloud-controller-manager-addon)",
                strategy: "Reconcile",
            },
        });
    }
    const operator = fluxOperatorChart(env);
    const instance = fluxInstanceChart(env);
    modules.push(
        {
            name: defaultModuleNames.fluxOperator,
            selector: workloadSelector(env),
            content: {
                kind: "helm",
                repoURL: operator.repo,
                chartName: operator.chart,
                version: operator.version,
                releaseName: "flux-operator",
                namespace: fluxNamespace,
                valuesTemplate: Object.keys(operator.values).length ? dumpYaml(operator.values) : "",
                reconcileStrategy: "Continuous",
            },
        },
        {
            name: defaultModuleNames.fluxInstance,
            selector: workloadSelector(env),
            content: {
                kind: "helm",
                repoURL: instance.repo,
                chartName: instance.chart,
                version: instance.version,
                releaseName: "flux-instance",
                namespace: fluxNamespace,
                valuesTemplate: fluxInstanceValuesTemplate(env),
                reconcileStrategy: "Continuous",
            },
        },
    );
    const include: Array<"gitCredentials" | "sopsAgeKey"> = [];
    if (env.secrets.gitCredentials) include.push("gitCredentials");
    if (env.secrets.sopsAgeKey) include.push("sopsAgeKey");
    if (include.length > 0) {
        modules.push({ name: defaultModuleNames.fluxSecrets, selector: workloadSelector(env), content: { kind: "secrets", include } });
    }
    return modules;
}

/** The environment's module of that name: the configured one, else the default. */
export function findModule(env: EnvironmentSpec, name: string): BootstrapModuleSpec | undefined {
    return env.bootstrapModules.find((m) => m.name === name) ?? defaultBootstrapModules(env).find((m) => m.name === name);
}

/**
 * Flux's opt-out of `postBuild` substitution: a module's objects go to the cluster as rendered, even when
 * its manifests or values contain `${…}` meant for the clusters it selects.
 */
export const substituteDisabledAnnotation = { "kustomize.toolkit.fluxcd.io/substitute": "disabled" } as const;

function moduleMetadata(env: EnvironmentSpec, module: BootstrapModuleSpec, name: string) {
    return {
        name,
        namespace: env.clusterNamespace,
        labels: sortedRecord({ [fleetLabels.environment]: env.environment, [moduleLabel]: module.name }),
        annotations: { ...substituteDisabledAnnotation },
    };
}

function checkedSelector(module: BootstrapModuleSpec): Record<string, string> {
    // An empty selector matches nothing in a ClusterResourceSet and everything in a HelmChartProxy: never render one.
    if (Object.keys(module.selector).length === 0) {
        throw new Error(`bootstrap module ${module.name}: the cluster selector is empty; give it at least one label`);
    }
    return sortedRecord(module.selector);
}

/**
 * The objects of one module, in apply order (resources before the ClusterResourceSet that uses them).
 * Secret values only come in through `secretValues`: a secrets module without them is an error (the
 * offline plan passes `placeholderSecretValues`).
 */
export function renderModule(env: EnvironmentSpec, module: BootstrapModuleSpec, secretValues?: FluxSecretValues): K8sObject[] {
    const selector = checkedSelector(module);
    const content = module.content;
    switch (content.kind) {
        case "helm":
            return [
                {
                    apiVersion: helmChartProxyApiVersion,
                    kind: "HelmChartProxy",
                    metadata: moduleMetadata(env, module, module.name),
                    spec: {
                        clusterSelector: { matchLabels: selector },
                        repoURL: content.repoURL,
                        chartName: content.chartName,
                        version: content.version,
                        releaseName: content.releaseName,
                        namespace: content.namespace,
                        ...(content.valuesTemplate ? { valuesTemplate: content.valuesTemplate } : {}),
                        reconcileStrategy: content.reconcileStrategy,
                    },
                },
            ];
        case "manifests": {
            const configMaps = splitIntoConfigMaps(module.name, env.clusterNamespace, content.documents, defaultSplitLimitBytes, content.source);
            for (const cm of configMaps) cm.metadata = moduleMetadata(env, module, cm.metadata.name);
            return [...configMaps, clusterResourceSet(env, module, selector, configMaps, content.strategy)];
        }
        case "secrets": {
            if (!secretValues) {
                throw new Error(`bootstrap module ${module.name}: secret values are required to render a secrets module`);
            }
            const values: FluxSecretValues = {};
            for (const key of [...content.include].sort()) {
                if (key === "sopsAgeKey") {
                    if (secretValues.sopsAgeKey === undefined) throw new Error(`bootstrap module ${module.name}: the sopsAgeKey secret has no value`);
                    values.sopsAgeKey = secretValues.sopsAgeKey;
                } else {
                    if (secretValues.git === undefined) throw new Error(`bootstrap module ${module.name}: the gitCredentials secret has no value`);
                    values.git = secretValues.git;
                }
            }
            const downstream = [
                { apiVersion: "v1", kind: "Namespace", metadata: { name: fluxNamespace } },
                ...renderFluxSecrets(values, fluxNamespace),
            ];
            const secret: K8sObject = {
                apiVersion: "v1",
                kind: "Secret",
                metadata: moduleMetadata(env, module, module.name),
                type: resourceSetSecretType,
                data: { [`${module.name}.yaml`]: Buffer.from(toYaml(downstream), "utf8").toString("base64") },
            };
            return [secret, clusterResourceSet(env, module, selector, [secret], "Reconcile")];
        }
        default:
            throw new Error(`bootstrap module ${(module as BootstrapModuleSpec).name}: unknown content kind`);
    }
}

/** Values standing in for the environment's secrets, so the offline plan can show secrets modules. */
export function placeholderSecretValues(env: Pick<EnvironmentSpec, "secrets" | "flux">): FluxSecretValues {
    // The same credential kind as the real values: an SSH key for ssh:// repositories, else a token.
    const ssh = env.flux.repositoryUrl.startsWith("ssh://");
    const git = ssh ? { identity: "<secret gitSshIdentity>", knownHosts: "<gitKnownHosts>" } : { username: "<gitUsername>", password: "<secret gitPassword>" };
    return {
        ...(env.secrets.sopsAgeKey ? { sopsAgeKey: "<secret sopsAgeKey>" } : {}),
        ...(env.secrets.gitCredentials ? { git } : {}),
    };
}

function clusterResourceSet(
    env: EnvironmentSpec,
    module: BootstrapModuleSpec,
    selector: Record<string, string>,
    resources: K8sObject[],
    strategy: "Reconcile" | "ApplyOnce",
): K8sObject {
    if (resources.length > maxResourcesPerClusterResourceSet) {
        throw new Error(
            `bootstrap module ${module.name}: ${resources.length} resources, a ClusterResourceSet holds at most ${maxResourcesPerClusterResourceSet}`,
        );
    }
    return {
        apiVersion: clusterResourceSetApiVersion,
        kind: "ClusterResourceSet",
        metadata: moduleMetadata(env, module, module.name),
        spec: {
            clusterSelector: { matchLabels: selector },
            resources: resources.map((r) => ({ kind: r.kind, name: r.metadata.name })),
            strategy,
        },
    };
}

/** Splits a multi-document YAML stream into its documents, text kept as written (comments included). */
export function splitYamlDocuments(documents: string): string[] {
    const docs: string[] = [];
    let current: string[] = [];
    const flush = () => {
        const text = current.join("\n").replace(/\s+$/, "");
        current = [];
        // A chunk of only comments and blank lines is no document.
        if (text.split("\n").some((line) => line.trim() !== "" && !line.trim().startsWith("#"))) docs.push(text);
    };
    for (const line of documents.replace(/\r\n/g, "\n").split("\n")) {
        if (/^---(\s.*)?$/.test(line) || /^\.\.\.\s*$/.test(line)) {
            flush();
            const rest = line.slice(3).trim();
            if (rest && !rest.startsWith("#") && line.startsWith("---")) current.push(rest);
        } else {
            current.push(line);
        }
    }
    flush();
    return docs;
}

function describeDocument(doc: string, index: number): string {
    try {
        const [parsed] = parseYamlDocuments(doc) as Array<{ kind?: unknown; metadata?: { name?: unknown } }>;
        if (parsed && typeof parsed.kind === "string") return `document ${index + 1} (${parsed.kind}/${String(parsed.metadata?.name ?? "?")})`;
    } catch {
        // described by position only
    }
    return `document ${index + 1}`;
}

/** Data key of the split ConfigMaps (a ClusterResourceSet applies every key of a resource). */
export const splitConfigMapKey = "manifests.yaml";

/**
 * ConfigMaps `<name>-1`, `<name>-2`, … holding the documents in order, each below `limitBytes` of data
 * (keys included), at most 100 of them. Documents are never cut: one larger than the limit is an error
 * naming it. Joining the ConfigMaps' data in order gives back the input documents.
 */
export function splitIntoConfigMaps(
    name: string,
    namespace: string,
    documents: string,
    limitBytes = defaultSplitLimitBytes,
    source = "inline",
): K8sObject[] {
    const docs = splitYamlDocuments(documents);
    if (docs.length === 0) throw new Error(`${name}: ${source} contains no YAML documents`);
    docs.forEach((doc, i) => {
        try {
            if (parseYamlDocuments(doc).length !== 1) throw new Error("not a single document");
        } catch (err) {
            throw new Error(`${name}: ${source} ${describeDocument(doc, i)} is not valid YAML: ${(err as Error).message}`);
        }
    });
    // A ConfigMap holds `<doc>\n---\n<doc>…\n` under one key: count the key, each document, the separators.
    const separator = "\n---\n";
    const overhead = Buffer.byteLength(splitConfigMapKey) + 1; // key + final newline
    const chunks: string[][] = [];
    let current: string[] = [];
    let currentBytes = overhead;
    docs.forEach((doc, i) => {
        const bytes = Buffer.byteLength(doc);
        if (overhead + bytes > limitBytes) {
            throw new Error(
                `${name}: ${source} ${describeDocument(doc, i)} is ${bytes} bytes, over the ${limitBytes}-byte limit of one ConfigMap; split it or ship it another way (Helm)`,
            );
        }
        const added = current.length === 0 ? bytes : separator.length + bytes;
        if (currentBytes + added > limitBytes) {
            chunks.push(current);
            current = [];
            currentBytes = overhead;
        }
        currentBytes += current.length === 0 ? bytes : separator.length + bytes;
        current.push(doc);
    });
    chunks.push(current);
    if (chunks.length > maxResourcesPerClusterResourceSet) {
        throw new Error(
            `${name}: ${source} needs ${chunks.length} ConfigMaps of at most ${limitBytes} bytes; a ClusterResourceSet holds at most ${maxResourcesPerClusterResourceSet}`,
        );
    }
    return chunks.map((chunk, i) => ({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `${name}-${i + 1}`, namespace },
        data: { [splitConfigMapKey]: chunk.join(separator) + "\n" },
    }));
}

/** Names of the declared clusters (management and workload) whose labels match the module's selector. */
export function selectedClusters(env: EnvironmentSpec, module: BootstrapModuleSpec): string[] {
    const entries = Object.entries(module.selector);
    if (entries.length === 0) return [];
    const clusters: ClusterSpec[] = [env.managementCluster, ...env.workloadClusters];
    return clusters
        .filter((cluster) => {
            const labels = clusterLabels(env, cluster);
            return entries.every(([key, value]) => labels[key] === value);
        })
        .map((cluster) => cluster.name);
}

/** Suffix of the bootstrap-time copies of modules that target the management cluster on the temporary cluster. */
export const bootstrapModuleSuffix = "bootstrap";

/**
 * What the program applies to the temporary cluster to create the permanent management cluster: the
 * clusters' Namespace, the management cluster's Cluster API objects, and the add-ons it needs before
 * anything can run on it, selecting only it: the CNI (CAAPH on kind installs it as soon as the control
 * plane is initialized) and, on AWS, the cloud-controller-manager. Their content is that of the
 * environment's `cni` / `cloud-controller-manager` modules, so when those select the cluster on the
 * permanent cluster after the pivot, the release and manifests are already what they would install.
 */
export function renderManagementBootstrap(env: EnvironmentSpec): K8sObject[] {
    const mgmt = env.managementCluster;
    const objects: K8sObject[] = [
        { apiVersion: "v1", kind: "Namespace", metadata: { name: env.clusterNamespace } },
        ...renderClusterObjects(env, mgmt),
    ];
    const names: string[] = [defaultModuleNames.cni];
    if (env.provider === "aws") names.push(defaultModuleNames.cloudControllerManager);
    for (const name of names) {
        const module = findModule(env, name);
        if (!module) throw new Error(`environment ${env.environment}: no ${name} module for the management cluster`);
        // `clusterctl move` carries the copy's ClusterResourceSet and binding to the permanent cluster, where the
        // environment's own module (Reconcile) then owns the objects: the copy applies once, so it never
        // re-applies its older content over a later change.
        const content = module.content.kind === "manifests" ? { ...module.content, strategy: "ApplyOnce" as const } : module.content;
        objects.push(
            ...renderModule(env, { ...module, content, name: `${module.name}-${bootstrapModuleSuffix}`, selector: clusterSelector(env, mgmt.name) }),
        );
    }
    return objects;
}
