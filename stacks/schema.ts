// The schema of the stack configuration, one zod schema per config key. Every message completes the
// sentence "expected …", because the loader prints `<key>: got <value>; expected <message>`.
import { z } from "zod";
import { goTemplateProblem } from "./goTemplate";
import { isAgeSecretKey } from "./ageKey";

export const projectName = "fleet-bootstrap";

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const semver = /^v\d+\.\d+\.\d+$/;
// Label keys: optional DNS subdomain prefix, then a name of at most 63 characters.
const labelKey = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A DNS-1123 label no longer than `max`, because the name becomes part of longer resource names. */
export function dnsName(max: number, becomes: string) {
    return z
        .string({ error: "a string" })
        .max(max, { error: `at most ${max} characters (${becomes})` })
        .regex(dns1123Label, { error: "a DNS-1123 label: lower-case letters, digits and '-', starting and ending alphanumeric" });
}

export const version = z.string({ error: "a version string" }).regex(semver, { error: "a pinned version vMAJOR.MINOR.PATCH, e.g. v1.14.0" });

const cidr = z.string({ error: "a CIDR string" }).refine((v) => parseCidr(v) !== undefined, { error: "an IPv4 CIDR like 10.96.0.0/12" });

export const labels = z.record(
    z.string().regex(labelKey, { error: "a Kubernetes label key (optional DNS prefix, name of at most 63 characters)" }),
    z.string({ error: "a string label value" }).max(63, { error: "a label value of at most 63 characters" }).regex(labelValue, { error: "a Kubernetes label value" }),
    { error: "a map of label keys to values" },
);

export const replicas = (what: string) => z.number({ error: `an integer number of ${what}` }).int({ error: `an integer number of ${what}` });

export const controlPlaneReplicas = replicas("control-plane machines").refine((n) => n >= 1 && n % 2 === 1, {
    error: "an odd number of control-plane machines, at least 1 (etcd needs a majority)",
});
export const workerReplicas = replicas("worker machines").refine((n) => n >= 1, {
    error: "at least 1 worker: clusterctl init and the pivot need a schedulable node",
});

const machineSet = (replicasSchema: z.ZodType<number>) =>
    z.strictObject(
        {
            replicas: replicasSchema.optional(),
            machineType: z.string({ error: "a machine type string" }).optional(),
        },
        { error: "an object {replicas, machineType}" },
    );

/** Repository-relative path, never escaping the repository. */
export const repoPath = z
    .string({ error: "a repository path" })
    .min(1, { error: "a non-empty repository path" })
    .refine((p) => !p.startsWith("/") && !p.split("/").includes("..") && !p.includes("\\"), {
        error: "a relative path inside the repository (no leading '/', no '..')",
    });

export const workloadCluster = z.strictObject({
    name: dnsName(40, "it prefixes machine, Secret and container names"),
    labels: labels.optional(),
    controlPlane: machineSet(controlPlaneReplicas).optional(),
    workers: machineSet(workerReplicas).optional(),
    podCidr: cidr.optional(),
    serviceCidr: cidr.optional(),
});

const helmContent = z.strictObject({
    repoURL: z.string().regex(/^(https|oci):\/\//, { error: "an https:// or oci:// chart repository URL" }),
    chartName: z.string().min(1, { error: "a chart name" }),
    version: z.string().regex(/^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/, { error: "a pinned chart version (exact semver, no range)" }),
    releaseName: dnsName(53, "Helm release names are at most 53 characters").optional(),
    namespace: dnsName(63, "a namespace").optional(),
    valuesTemplate: z
        .string()
        .superRefine((template, ctx) => {
            const problem = goTemplateProblem(template);
            if (problem) ctx.addIssue({ code: "custom", message: `a Go template CAAPH can parse (text/template syntax; ${problem})` });
        })
        .optional(),
    reconcileStrategy: z.enum(["Continuous", "InstallOnce"], { error: "Continuous or InstallOnce" }).optional(),
});

const manifestsContent = z.strictObject({
    path: repoPath,
    strategy: z.enum(["Reconcile", "ApplyOnce"], { error: "Reconcile or ApplyOnce" }).optional(),
});

export const bootstrapModule = z
    .strictObject({
        name: dnsName(40, "it prefixes the ConfigMaps, Secrets and HelmChartProxies of the module"),
        selector: labels.refine((s) => Object.keys(s).length > 0, {
            error: "a non-empty label selector (an empty ClusterResourceSet selector matches nothing, an empty module selector would match every cluster)",
        }),
        helm: helmContent.optional(),
        manifests: manifestsContent.optional(),
        secrets: z.array(z.enum(["gitCredentials", "sopsAgeKey"], { error: "gitCredentials or sopsAgeKey" })).min(1).optional(),
    })
    .refine((m) => [m.helm, m.manifests, m.secrets].filter((c) => c !== undefined).length === 1, {
        error: "exactly one of helm, manifests or secrets",
    });

/** Every plain (non-secret) key of the project, with its schema. Keys are `fleet-bootstrap:<name>`. */
export const plainKeys = {
    environment: dnsName(20, "it prefixes state directories and AWS tags").optional(),
    provider: z.enum(["docker", "aws"], { error: "docker or aws" }),
    kubernetesVersion: version,
    clusterApiVersion: version,
    infrastructureProviderVersion: version.optional(),
    helmAddonProviderVersion: version,
    fluxOperatorVersion: version,
    fluxOperatorBootstrapChart: z.string().regex(/^((oci|https):\/\/\S+|\/\S+)?$/, {
        error: "empty (the upstream chart), an oci:// or https:// chart reference, or the absolute path of a local chart directory or .tgz",
    }),
    fluxDistributionVersion: version,
    fluxArtifactDigest: z.string().regex(/^(sha256:[a-f0-9]{64})?$/, { error: "a digest sha256:<64 hex>, or empty" }),
    cniVersion: version,
    kindClusterName: dnsName(49, "kind names its node container <name>-control-plane").optional(),
    kindNodeImage: z
        .string()
        .regex(/^[\w./-]+:v\d+\.\d+\.\d+@sha256:[a-f0-9]{64}$/, { error: "a kind node image pinned by tag and digest, e.g. kindest/node:v1.33.1@sha256:<64 hex>" }),
    clusterNamespace: dnsName(63, "a namespace"),
    managementClusterName: dnsName(40, "it prefixes machine, Secret and container names"),
    managementClusterLabels: labels,
    controlPlaneReplicas,
    controlPlaneMachineType: z.string(),
    workerReplicas,
    workerMachineType: z.string(),
    podCidr: cidr,
    serviceCidr: cidr,
    fluxRepositoryUrl: z.string().regex(/^(https|ssh):\/\/[^\s]+$/, { error: "an https:// or ssh:// Git repository URL" }),
    fluxClustersPath: repoPath,
    fluxBranch: z.string().regex(/^[A-Za-z0-9._/-]+$/, { error: "a Git branch name" }),
    fluxSyncName: dnsName(63, "the FluxInstance sync object name"),
    fluxSyncRenameFrom: dnsName(63, "the previous FluxInstance sync name").optional(),
    fleetSource: z.enum(["repository", "local"], { error: "repository (sync fluxRepositoryUrl) or local (serve the committed render from this machine)" }),
    fleetCheckout: z.string(),
    fluxComponents: z
        .array(z.enum(["source-controller", "kustomize-controller", "helm-controller", "notification-controller", "image-reflector-controller", "image-automation-controller", "source-watcher"]))
        .min(2)
        .refine((c) => c.includes("source-controller") && c.includes("kustomize-controller"), { error: "a list including source-controller and kustomize-controller" }),
    gitUsername: z.string(),
    gitKnownHosts: z.string(),
    ageRecipient: z.string().regex(/^(age1[0-9a-z]{58})?$/, { error: "an age public key (age1…) or empty" }),
    adoptExistingManagementCluster: z.string().regex(/^([~/][^\s]*)?$/, { error: "the absolute path (or ~/…) of a kubeconfig file of the existing management cluster, or empty" }),
    awsSshKeyName: z.string(),
    awsReuseExistingIam: z.boolean({ error: "true or false" }),
    awsStaticCredentialsOnPermanent: z.boolean({ error: "true or false" }),
    awsCredentialsFromEnvironment: z.boolean({ error: "true or false" }),
    workloadClusters: z.array(workloadCluster, { error: "a YAML list of workload clusters" }),
    bootstrapModules: z.array(bootstrapModule, { error: "a YAML list of bootstrap modules" }),
} as const;

/** Secret keys: must be set with `pulumi config set --secret`; a plain value is rejected. */
export const secretKeys = {
    sopsAgeKey: z.string().refine(isAgeSecretKey, { error: "an age secret key as age-keygen prints it (AGE-SECRET-KEY-1…, its checksum valid)" }),
    gitPassword: z.string().min(1, { error: "a non-empty token or password" }),
    gitSshIdentity: z.string().includes("PRIVATE KEY", { error: "an SSH private key (PEM/OpenSSH)" }),
    awsAccessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, { error: "an AWS access key id" }),
    awsSecretAccessKey: z.string().min(16, { error: "an AWS secret access key" }),
    awsSessionToken: z.string(),
} as const;

export type PlainKey = keyof typeof plainKeys;
export type SecretKey = keyof typeof secretKeys;

/** Keys whose value is a YAML document inside a string (Pulumi project config cannot declare object types). */
export const yamlKeys: ReadonlySet<PlainKey> = new Set<PlainKey>(["workloadClusters", "bootstrapModules", "managementClusterLabels"]);

/** Parses `a.b.c.d/n`; returns the network as a 32-bit number and the prefix length. */
export function parseCidr(value: string): { network: number; prefix: number } | undefined {
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
    if (!match) return undefined;
    const octets = match.slice(1, 5).map(Number);
    const prefix = Number(match[5]);
    if (octets.some((o) => o > 255) || prefix > 32) return undefined;
    const address = octets.reduce((acc, o) => acc * 256 + o, 0);
    const size = 2 ** (32 - prefix);
    if (address % size !== 0) return undefined; // host bits set: not a network address
    return { network: address, prefix };
}

export function cidrsOverlap(a: string, b: string): boolean {
    const x = parseCidr(a);
    const y = parseCidr(b);
    if (!x || !y) return false;
    const shorter = Math.min(x.prefix, y.prefix);
    const size = 2 ** (32 - shorter);
    return Math.floor(x.network / size) === Math.floor(y.network / size);
}
