// Configuration is the only door into the program: raw stack config in, a validated EnvironmentSpec out,
// or every problem at once, each naming the key, the value and what is expected.
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { z } from "zod";
import { defaultBootstrapModules } from "../render/modules";
import { providerDefaults } from "./defaults";
import { cidrsOverlap, parseCidr, PlainKey, plainKeys, projectName, SecretKey, secretKeys, yamlKeys } from "./schema";
import { BootstrapModuleSpec, ClusterSpec, EnvironmentSpec, fleetLabels, MachineSet, ModuleContent } from "./spec";

/** Stack configuration as Pulumi hands it to a program: every value a string, keys `project:key`. */
export interface RawConfig {
    values: Record<string, string>;
    /** Keys whose value is a Pulumi secret. */
    secretKeys: ReadonlySet<string>;
    /** Secret keys whose value is encrypted and cannot be read here (offline plan): present, not validated. */
    opaqueKeys?: ReadonlySet<string>;
    /** What the Pulumi CLI refuses before the program runs (stacks/stackFiles.ts); the program never sees such a stack. */
    refusedByPulumi?: string[];
}

export type ConfigResult = { ok: true; spec: EnvironmentSpec } | { ok: false; errors: string[] };

const integerKeys = new Set<PlainKey>(["controlPlaneReplicas", "workerReplicas"]);
const booleanKeys = new Set<PlainKey>(["awsReuseExistingIam", "awsStaticCredentialsOnPermanent", "awsCredentialsFromEnvironment"]);
const jsonKeys = new Set<PlainKey>(["fluxComponents"]);

export const configKey = (key: string) => `${projectName}:${key}`;

/** Formats a value for an error message; secret values are never shown. */
function show(value: unknown, secret: boolean): string {
    if (secret) return "[secret]";
    if (value === undefined) return "nothing (the key is not set)";
    return JSON.stringify(value);
}

function valueAt(root: unknown, keyPath: PropertyKey[]): unknown {
    let node = root;
    for (const part of keyPath) {
        if (node === null || typeof node !== "object") return undefined;
        node = (node as Record<PropertyKey, unknown>)[part];
    }
    return node;
}

function formatPath(key: string, keyPath: PropertyKey[]): string {
    return keyPath.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : `${acc}.${String(part)}`), configKey(key));
}

function issueMessages(key: string, input: unknown, error: z.ZodError, secret: boolean): string[] {
    return error.issues.map((issue) => {
        const keyPath = issue.path as PropertyKey[];
        let message = issue.message;
        if (issue.code === "unrecognized_keys") message = `no key ${issue.keys.map((k) => `'${k}'`).join(", ")} (unknown key)`;
        else if (issue.code === "invalid_type" && valueAt(input, keyPath) === undefined) message = "a value: the key is required and has no default";
        return `${formatPath(key, keyPath)}: got ${show(valueAt(input, keyPath), secret)}; expected ${message}`;
    });
}

/** Turns the string Pulumi stores into the typed value the schema expects. */
function decode(key: PlainKey, raw: string): { value?: unknown; error?: string } {
    try {
        if (yamlKeys.has(key)) return { value: yaml.load(raw) ?? undefined };
        if (integerKeys.has(key)) return { value: /^[+-]?\d+$/.test(raw) ? Number(raw) : raw };
        if (booleanKeys.has(key)) return { value: raw === "true" ? true : raw === "false" ? false : raw };
        if (jsonKeys.has(key)) return { value: JSON.parse(raw) };
        return { value: raw };
    } catch (err) {
        return { error: `${configKey(key)}: got ${JSON.stringify(raw)}; expected valid ${yamlKeys.has(key) ? "YAML" : "JSON"} (${(err as Error).message.split("\n")[0]})` };
    }
}

type Plain = { [K in PlainKey]: z.infer<(typeof plainKeys)[K]> };

/**
 * Validates raw stack config and builds the environment spec.
 * `repoRoot` is where module manifests paths are read from; `stack` names the environment by default.
 */
export function parseConfig(raw: RawConfig, stack: string, repoRoot: string): ConfigResult {
    if (raw.refusedByPulumi?.length) return { ok: false, errors: raw.refusedByPulumi };
    const errors: string[] = [];
    const plain: Partial<Plain> = {};

    for (const key of Object.keys(plainKeys) as PlainKey[]) {
        const full = configKey(key);
        const rawValue = raw.values[full];
        // Pulumi.yaml declares optional keys with the default "", which means "not set".
        const unset = rawValue === undefined || (rawValue === "" && plainKeys[key].safeParse(undefined).success);
        const decoded = unset ? { value: undefined } : decode(key, rawValue);
        if (decoded.error) {
            errors.push(decoded.error);
            continue;
        }
        const result = plainKeys[key].safeParse(decoded.value);
        if (result.success) (plain as Record<string, unknown>)[key] = result.data;
        else errors.push(...issueMessages(key, decoded.value, result.error, false));
    }

    const secretPresent: Partial<Record<SecretKey, boolean>> = {};
    for (const key of Object.keys(secretKeys) as SecretKey[]) {
        const full = configKey(key);
        const value = raw.values[full];
        const opaque = raw.opaqueKeys?.has(full) ?? false;
        // Pulumi.yaml declares credentials with the default "" (not set): see the note there.
        if ((value === undefined || value === "") && !opaque) continue;
        if (!raw.secretKeys.has(full)) {
            errors.push(`${full}: got a plain-text value; expected a Pulumi secret: run \`pulumi config set --secret ${key}\` (and remove the plain value from Pulumi.${stack}.yaml and its Git history)`);
            continue;
        }
        if (!opaque && value !== undefined && value !== "") {
            const result = secretKeys[key].safeParse(value);
            if (!result.success) errors.push(...issueMessages(key, value, result.error, true));
        }
        secretPresent[key] = opaque || value !== "";
    }

    // Unknown keys in our namespace are typos: say so rather than silently ignore them.
    const known = new Set([...Object.keys(plainKeys), ...Object.keys(secretKeys)].map(configKey));
    for (const full of Object.keys(raw.values).sort()) {
        if (full.startsWith(`${projectName}:`) && !known.has(full)) errors.push(`${full}: got an unknown key; expected one of the keys declared in Pulumi.yaml`);
    }

    if (errors.length > 0) return { ok: false, errors };
    const spec = buildSpec(plain as Plain, secretPresent, raw.values["aws:region"] ?? "", stack, repoRoot, errors);
    return errors.length > 0 || !spec ? { ok: false, errors } : { ok: true, spec };
}

/**
 * The stack name names the environment unless `environment` is set, and then has to be a name the
 * environment may have: checked here, before a component turns it into longer names.
 */
function stackNameProblems(stack: string): string[] {
    const result = plainKeys.environment.safeParse(stack);
    if (result.success) return [];
    return result.error.issues.map(
        (issue) => `stack name ${JSON.stringify(stack)}: it names the environment because ${configKey("environment")} is not set; expected ${issue.message}: set ${configKey("environment")} (\`pulumi config set -s ${stack} environment <name>\`) or use such a stack name`,
    );
}

/** Cilium's cluster-pool IPAM (the cni module) gives every node a /24 of the pod network (its chart default). */
const podCidrPerNodePrefix = 24;
/**
 * Service networks: kube-apiserver before v1.34 refuses more than 20 host bits
 * (cmd/kube-apiserver/app/options/validation.go, maxCIDRBits; from v1.34 the allocator without that limit
 * is the only one), and kubeadm gives the cluster DNS Service the range's 10th address
 * (cmd/kubeadm/app/constants GetDNSIP), so the range needs at least 16 addresses.
 */
const serviceCidrWidestPrefix = 12;
const serviceCidrNarrowestPrefix = 28;

function kubernetesMinor(version: string): number {
    return Number(/^v1\.(\d+)\./.exec(version)?.[1] ?? 0);
}

/** Size problems of a cluster's pod and service networks; `where` names the keys they came from. */
function networkSizeProblems(cluster: ClusterSpec, kubernetesVersion: string, where: { pod: string; service: string }): string[] {
    const problems: string[] = [];
    const pod = parseCidr(cluster.network.podCidr);
    const service = parseCidr(cluster.network.serviceCidr);
    // Every machine, plus the one extra a rollout adds to the control plane and to the workers (maxSurge 1).
    const nodes = cluster.controlPlane.replicas + cluster.workers.replicas + 2;
    if (pod && pod.prefix > podCidrPerNodePrefix) {
        problems.push(`${where.pod}: got ${JSON.stringify(cluster.network.podCidr)}; expected a /${podCidrPerNodePrefix} or wider network: Cilium (cluster-pool IPAM) gives every node of cluster '${cluster.name}' a /${podCidrPerNodePrefix} of it`);
    } else if (pod && 2 ** (podCidrPerNodePrefix - pod.prefix) < nodes) {
        const needed = podCidrPerNodePrefix - Math.ceil(Math.log2(nodes));
        problems.push(`${where.pod}: got ${JSON.stringify(cluster.network.podCidr)}; expected room for a /${podCidrPerNodePrefix} per node: cluster '${cluster.name}' has ${cluster.controlPlane.replicas} control-plane and ${cluster.workers.replicas} worker machines, plus one of each during a rollout, so a /${needed} or wider`);
    }
    if (service && service.prefix < serviceCidrWidestPrefix && kubernetesMinor(kubernetesVersion) < 34) {
        problems.push(`${where.service}: got ${JSON.stringify(cluster.network.serviceCidr)}; expected a /${serviceCidrWidestPrefix} or narrower network: kube-apiserver ${kubernetesVersion} refuses a service range with more than 20 host bits ("specified --service-cluster-ip-range is too large"), e.g. 10.96.0.0/12`);
    }
    if (service && service.prefix > serviceCidrNarrowestPrefix) {
        problems.push(`${where.service}: got ${JSON.stringify(cluster.network.serviceCidr)}; expected a /${serviceCidrNarrowestPrefix} or wider network: kubeadm gives the cluster DNS Service the 10th address of the range, and every Service of cluster '${cluster.name}' needs one`);
    }
    return problems;
}

/** Where a module's manifests may not come from: the repository root, or a folder holding the stack files. */
function manifestsPathProblem(repoRoot: string, relative: string): string | undefined {
    const target = path.resolve(repoRoot, relative);
    const isStackFile = (name: string) => /^Pulumi(\.[^/]+)?\.ya?ml$/.test(name);
    if (target === path.resolve(repoRoot)) return "a file or folder below the repository root (the root holds the whole repository, with the Pulumi stack files)";
    if (isStackFile(path.basename(target))) return "a manifests file or folder, not a Pulumi project or stack file";
    if (fs.existsSync(target) && fs.statSync(target).isDirectory() && fs.readdirSync(target).some(isStackFile)) {
        return "a folder without Pulumi project or stack files (they would be applied to every selected cluster as manifests): move the manifests into their own folder";
    }
    return undefined;
}

function buildSpec(c: Plain, secrets: Partial<Record<SecretKey, boolean>>, awsRegion: string, stack: string, repoRoot: string, errors: string[]): EnvironmentSpec | undefined {
    if (c.environment === undefined) errors.push(...stackNameProblems(stack));
    const environment = c.environment ?? stack;
    const defaults = providerDefaults[c.provider];
    const infrastructureProvider = c.infrastructureProviderVersion ?? defaults.infrastructureProviderVersion(c.clusterApiVersion);
    if (!infrastructureProvider) errors.push(`${configKey("infrastructureProviderVersion")}: got nothing (the key is not set); expected a pinned ${c.provider} provider version for provider ${c.provider}, e.g. v2.11.1`);

    const machineType = (key: "controlPlaneMachineType" | "workerMachineType") => {
        const value = c[key] || defaults.machineType;
        if (!value) errors.push(`${configKey(key)}: got ${JSON.stringify(c[key])}; expected a machine type (e.g. t3.large) for provider ${c.provider}`);
        return value ?? "";
    };
    const controlPlane: MachineSet = { replicas: c.controlPlaneReplicas, machineType: machineType("controlPlaneMachineType") };
    const workers: MachineSet = { replicas: c.workerReplicas, machineType: machineType("workerMachineType") };

    const clusterLabels = (name: string, role: ClusterSpec["role"], extra: Record<string, string> | undefined) => ({
        ...extra,
        [fleetLabels.environment]: environment,
        [fleetLabels.role]: role,
        [fleetLabels.cluster]: name,
    });

    const management: ClusterSpec = {
        name: c.managementClusterName,
        role: "management",
        labels: clusterLabels(c.managementClusterName, "management", c.managementClusterLabels),
        controlPlane,
        workers,
        network: { podCidr: c.podCidr, serviceCidr: c.serviceCidr },
        fluxPath: `${c.fluxClustersPath}/${environment}/${c.managementClusterName}`,
    };

    const workloads: ClusterSpec[] = c.workloadClusters.map((w) => ({
        name: w.name,
        role: "workload",
        labels: clusterLabels(w.name, "workload", w.labels),
        controlPlane: { replicas: w.controlPlane?.replicas ?? controlPlane.replicas, machineType: w.controlPlane?.machineType ?? controlPlane.machineType },
        workers: { replicas: w.workers?.replicas ?? workers.replicas, machineType: w.workers?.machineType ?? workers.machineType },
        network: { podCidr: w.podCidr ?? c.podCidr, serviceCidr: w.serviceCidr ?? c.serviceCidr },
        fluxPath: `${c.fluxClustersPath}/${environment}/${w.name}`,
    }));

    // CAPD labels a cluster's containers io.x-k8s.kind.cluster=<name>, as kind labels its own: a Cluster named
    // like the kind cluster would be taken by `kind delete cluster`.
    const kindName = c.kindClusterName ?? `${environment}-bootstrap`;
    const seen = new Map<string, string>();
    const claim = (name: string, key: string) => {
        const previous = seen.get(name);
        if (name === kindName) {
            errors.push(`${key}: got ${JSON.stringify(name)}; expected a name other than the temporary kind cluster's (${configKey("kindClusterName")}, default <environment>-bootstrap): CAPD labels a cluster's containers with its name as kind does, so \`kind delete cluster --name ${name}\` would delete them too`);
        } else if (previous) errors.push(`${key}: got ${JSON.stringify(name)}; expected a name no other cluster of the environment has (${previous} has it)`);
        seen.set(name, key);
    };
    claim(management.name, configKey("managementClusterName"));
    workloads.forEach((w, i) => claim(w.name, `${configKey("workloadClusters")}[${i}].name`));
    [management, ...workloads].forEach((cluster, index) => {
        const own = cluster.role === "workload" ? c.workloadClusters[index - 1] : undefined;
        const keyOf = (key: "podCidr" | "serviceCidr") => (own?.[key] ? `${configKey("workloadClusters")}[${index - 1}].${key}` : own ? `${configKey(key)} (the default of workloadClusters[${index - 1}] '${cluster.name}')` : configKey(key));
        if (cidrsOverlap(cluster.network.podCidr, cluster.network.serviceCidr)) {
            errors.push(`${keyOf("podCidr")} / ${keyOf("serviceCidr")}: got ${cluster.network.podCidr} and ${cluster.network.serviceCidr}; expected non-overlapping pod and service networks`);
        }
        errors.push(...networkSizeProblems(cluster, c.kubernetesVersion, { pod: keyOf("podCidr"), service: keyOf("serviceCidr") }));
    });

    const gitCredentials = Boolean(secrets.gitPassword || secrets.gitSshIdentity);
    if (c.fluxRepositoryUrl.startsWith("ssh://") && !secrets.gitSshIdentity) {
        errors.push(`${configKey("gitSshIdentity")}: got nothing (the key is not set); expected a read-only SSH deploy key, because ${configKey("fluxRepositoryUrl")} is ${c.fluxRepositoryUrl}`);
    }
    if (secrets.gitPassword && !c.gitUsername) errors.push(`${configKey("gitUsername")}: got ""; expected the user name that goes with ${configKey("gitPassword")}`);

    const aws = c.provider === "aws"
        ? {
              region: awsRegion,
              sshKeyName: c.awsSshKeyName,
              reuseExistingIam: c.awsReuseExistingIam,
              staticCredentialsOnPermanent: c.awsStaticCredentialsOnPermanent,
              credentialsFromEnvironment: c.awsCredentialsFromEnvironment,
          }
        : undefined;
    if (aws && !/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(aws.region)) errors.push(`aws:region: got ${show(aws.region || undefined, false)}; expected the AWS region of the environment, e.g. eu-west-1 (\`pulumi config set aws:region eu-west-1\`)`);
    const awsCredentials = Boolean(secrets.awsAccessKeyId && secrets.awsSecretAccessKey);
    if (aws && !aws.credentialsFromEnvironment && !awsCredentials) {
        errors.push(`${configKey("awsAccessKeyId")} / ${configKey("awsSecretAccessKey")}: got nothing; expected both as Pulumi secrets for CAPA's bootstrap credentials, or ${configKey("awsCredentialsFromEnvironment")}: true`);
    }

    const base: Omit<EnvironmentSpec, "bootstrapModules"> = {
        environment,
        provider: c.provider,
        versions: {
            kubernetes: c.kubernetesVersion,
            clusterApi: c.clusterApiVersion,
            infrastructureProvider: infrastructureProvider ?? "",
            helmAddonProvider: c.helmAddonProviderVersion,
            fluxOperator: c.fluxOperatorVersion,
            fluxDistribution: c.fluxDistributionVersion,
            fluxArtifactDigest: c.fluxArtifactDigest,
            cni: c.cniVersion,
        },
        temporaryCluster: { name: c.kindClusterName ?? `${environment}-bootstrap`, nodeImage: c.kindNodeImage },
        clusterNamespace: c.clusterNamespace,
        managementCluster: management,
        workloadClusters: workloads,
        flux: { repositoryUrl: c.fluxRepositoryUrl, clustersPath: c.fluxClustersPath.replace(/\/+$/, ""), branch: c.fluxBranch, syncName: c.fluxSyncName, syncRenameFrom: c.fluxSyncRenameFrom ?? "", components: c.fluxComponents, source: c.fleetSource, checkout: c.fleetCheckout, operatorBootstrapChart: c.fluxOperatorBootstrapChart },
        aws,
        ageRecipient: c.ageRecipient,
        adoptExistingManagementCluster: c.adoptExistingManagementCluster,
        secrets: { sopsAgeKey: Boolean(secrets.sopsAgeKey), gitCredentials, awsCredentials },
    };

    const modules = [...defaultBootstrapModules(base), ...userModules(c.bootstrapModules, base, repoRoot, errors)];
    const moduleNames = new Set<string>();
    for (const m of modules) {
        if (moduleNames.has(m.name)) errors.push(`${configKey("bootstrapModules")} '${m.name}': got a duplicate module name; expected a name no other module (including the defaults: ${defaultBootstrapModules(base).map((d) => d.name).join(", ")}) has`);
        moduleNames.add(m.name);
    }
    if (errors.length > 0) return undefined;
    return { ...base, bootstrapModules: modules };
}

function userModules(modules: Plain["bootstrapModules"], env: Omit<EnvironmentSpec, "bootstrapModules">, repoRoot: string, errors: string[]): BootstrapModuleSpec[] {
    return modules.map((m, i) => {
        const key = `${configKey("bootstrapModules")}[${i}]`;
        let content: ModuleContent;
        if (m.helm) {
            content = {
                kind: "helm",
                repoURL: m.helm.repoURL,
                chartName: m.helm.chartName,
                version: m.helm.version,
                releaseName: m.helm.releaseName ?? m.name,
                namespace: m.helm.namespace ?? m.name,
                valuesTemplate: m.helm.valuesTemplate ?? "",
                reconcileStrategy: m.helm.reconcileStrategy ?? "Continuous",
            };
        } else if (m.manifests) {
            const problem = manifestsPathProblem(repoRoot, m.manifests.path);
            if (problem) errors.push(`${key}.manifests.path: got ${JSON.stringify(m.manifests.path)}; expected ${problem}`);
            // Never read what is refused: stack files hold encrypted secrets.
            const documents = problem ? "" : readManifests(path.join(repoRoot, m.manifests.path), `${key}.manifests.path`, m.manifests.path, errors);
            content = { kind: "manifests", documents, source: m.manifests.path, strategy: m.manifests.strategy ?? "Reconcile" };
        } else {
            const include = m.secrets ?? [];
            for (const secret of include) {
                const present = secret === "gitCredentials" ? env.secrets.gitCredentials : env.secrets.sopsAgeKey;
                if (!present) errors.push(`${key}.secrets: got ${JSON.stringify(secret)}; expected only secrets the environment has (set ${secret === "gitCredentials" ? "gitPassword or gitSshIdentity" : "sopsAgeKey"} with \`pulumi config set --secret\`)`);
            }
            content = { kind: "secrets", include };
        }
        return { name: m.name, selector: m.selector, content };
    });
}

/** Reads a YAML file, or every .yaml/.yml file of a directory in name order, as one multi-document string. */
function readManifests(target: string, key: string, shown: string, errors: string[]): string {
    let files: string[];
    try {
        files = fs.statSync(target).isDirectory()
            ? fs.readdirSync(target).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(target, f))
            : [target];
    } catch {
        errors.push(`${key}: got ${JSON.stringify(shown)}; expected a YAML file or directory in the repository`);
        return "";
    }
    if (files.length === 0) errors.push(`${key}: got ${JSON.stringify(shown)}; expected a directory holding .yaml files`);
    return files.map((f) => fs.readFileSync(f, "utf8").trim()).join("\n---\n");
}
