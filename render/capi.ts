// Cluster API objects of one cluster (the permanent management cluster or a workload cluster), in the
// v1beta2 API (Cluster API v1.11+): Cluster, the provider's infrastructure cluster, KubeadmControlPlane,
// machine templates, one MachineDeployment and its KubeadmConfigTemplate. Also the kind configuration
// of the temporary cluster. Pure: spec in, objects out.
//
// Shapes follow the providers' own templates:
// - docker (CAPD v1.14): `DevCluster`/`DevMachineTemplate` with the docker backend, as in
//   `test/infrastructure/docker/templates/clusterclass-quick-start.yaml` (docker.sock mounted in every
//   machine so the cluster can run CAPD itself after the pivot; the quick start's kubelet eviction args).
// - aws (CAPA v2.11): `AWSCluster`/`AWSMachineTemplate` v1beta2 carrying what `templates/cluster-template.yaml`
//   carries (NLB control-plane load balancer, region, SSH key, the clusterawsadm instance profiles,
//   external cloud provider, node names from EC2 metadata), its v1beta1 core objects translated to v1beta2.
import { createHash } from "node:crypto";

import { fleetLabels, type ClusterSpec, type EnvironmentSpec } from "../stacks/spec";
import type { K8sObject, ObjectMeta } from "./types";
import { capaIamName } from "./iam";
import { dumpYaml, parseYamlDocuments, sortedRecord } from "./yaml";

export const apiGroups = {
    cluster: "cluster.x-k8s.io",
    controlPlane: "controlplane.cluster.x-k8s.io",
    bootstrap: "bootstrap.cluster.x-k8s.io",
    infrastructure: "infrastructure.cluster.x-k8s.io",
} as const;

/** Cluster API core, kubeadm and CAPD/CAPA infrastructure objects are all rendered in this version. */
export const capiVersion = "v1beta2";

/** Flux must never prune the management cluster's own definition (removing it from Git must not delete it). */
export const pruneDisabledAnnotation = { "kustomize.toolkit.fluxcd.io/prune": "disabled" } as const;

/** Label Cluster API puts on the objects of a cluster; we put it on every object we render for one. */
export const clusterNameLabel = "cluster.x-k8s.io/cluster-name";
export const deploymentNameLabel = "cluster.x-k8s.io/deployment-name";

/** Instance profiles `clusterawsadm bootstrap iam` creates (CAPA's default template uses these names). */
export const awsInstanceProfiles = {
    controlPlane: capaIamName("control-plane"),
    nodes: capaIamName("nodes"),
} as const;

/** Tags CAPA puts on every AWS resource of a cluster, besides its own. */
export const awsTagKeys = {
    environment: fleetLabels.environment,
    cluster: fleetLabels.cluster,
} as const;

const dockerSocket = "/var/run/docker.sock";

/** CAPD quick start: kubelet eviction disabled, since kind nodes share the host's disk. */
const capdKubeletArgs = [{ name: "eviction-hard", value: "nodefs.available<0%,nodefs.inodesFree<0%,imagefs.available<0%" }];
/** CAPD quick start: API server certificate names usable from the host (macOS proxies ports through host.docker.internal). */
const capdCertSANs = ["localhost", "127.0.0.1", "0.0.0.0", "host.docker.internal"];

/** CAPA template: cloud provider external (the AWS cloud-controller-manager runs in the cluster). */
const externalCloudProvider = [{ name: "cloud-provider", value: "external" }];
/** CAPA template: node names from the EC2 instance metadata (cloud-init Jinja, not a Go template). */
const awsNodeName = "{{ ds.meta_data.local_hostname }}";

/**
 * Labels of a cluster's `Cluster` object: its configured labels, with the fleet labels filled in when
 * the configuration left one out (they are what the bootstrap modules select on). Sorted by key.
 */
export function clusterLabels(env: Pick<EnvironmentSpec, "environment">, cluster: ClusterSpec): Record<string, string> {
    return sortedRecord({
        [fleetLabels.environment]: env.environment,
        [fleetLabels.role]: cluster.role,
        [fleetLabels.cluster]: cluster.name,
        ...cluster.labels,
    });
}

export function isManagementCluster(env: Pick<EnvironmentSpec, "managementCluster">, cluster: ClusterSpec): boolean {
    return cluster.role === "management" || cluster.name === env.managementCluster.name;
}

/** Names of the objects of a cluster; machine and bootstrap templates get a content hash suffix (see below). */
export function clusterObjectNames(cluster: Pick<ClusterSpec, "name">): { cluster: string; controlPlane: string; machineDeployment: string } {
    return {
        cluster: cluster.name,
        controlPlane: `${cluster.name}-control-plane`,
        machineDeployment: `${cluster.name}-md-0`,
    };
}

interface ProviderParts {
    infraClusterKind: string;
    infraClusterSpec: Record<string, unknown>;
    machineTemplateKind: string;
    controlPlaneMachine: Record<string, unknown>;
    workerMachine: Record<string, unknown>;
    /** `kubeadmConfigSpec.clusterConfiguration` of the control plane. */
    clusterConfiguration: Record<string, unknown>;
    /** `nodeRegistration` of init and join configurations. */
    nodeRegistration: Record<string, unknown>;
}

/**
 * The node image of CAPD machines: what the quick-start ClusterClass patches in (`+` is not valid in an
 * image tag), pinned by the digest of the kind node image when that is the same Kubernetes version.
 */
export function capdNodeImage(env: Pick<EnvironmentSpec, "versions" | "temporaryCluster">): string {
    const tagged = `kindest/node:${env.versions.kubernetes.replace(/\+/g, "_")}`;
    return env.temporaryCluster.nodeImage.startsWith(`${tagged}@sha256:`) ? env.temporaryCluster.nodeImage : tagged;
}

function dockerParts(env: EnvironmentSpec, _cluster: ClusterSpec): ProviderParts {
    const machine = {
        backend: {
            docker: {
                customImage: capdNodeImage(env),
                extraMounts: [{ containerPath: dockerSocket, hostPath: dockerSocket }],
            },
        },
    };
    return {
        infraClusterKind: "DevCluster",
        infraClusterSpec: { backend: { docker: {} } },
        machineTemplateKind: "DevMachineTemplate",
        controlPlaneMachine: machine,
        workerMachine: machine,
        clusterConfiguration: { apiServer: { certSANs: capdCertSANs } },
        nodeRegistration: { kubeletExtraArgs: capdKubeletArgs },
    };
}

/** An AWSCluster `spec.network.cni.cniIngressRules` entry: allowed from the cluster's control-plane and node security groups. */
export interface CniIngressRule {
    description: string;
    protocol: "tcp" | "udp" | "icmp" | "-1" | "50";
    fromPort: number;
    toPort: number;
}

/**
 * The node-to-node traffic Cilium needs, from the values of the environment's Cilium module (chart defaults
 * where it sets nothing: tunnel routing over VXLAN, Hubble on), as Cilium's "Firewall Rules" lists it
 * (docs.cilium.io, System Requirements): the overlay port, cilium-health (TCP 4240 and ICMP echo, type 8
 * code 0, which AWS takes as fromPort/toPort), the Hubble server (TCP 4244), and the encryption transport
 * when enabled (WireGuard UDP 51871, IPsec ESP). Native routing needs every protocol between nodes.
 * Setting these replaces CAPA's default, Calico's BGP and IP-in-IP rules.
 */
export function ciliumIngressRules(env: Pick<EnvironmentSpec, "bootstrapModules">): CniIngressRule[] {
    const module = env.bootstrapModules.find((m) => m.content.kind === "helm" && m.content.chartName === "cilium");
    if (!module || module.content.kind !== "helm") throw new Error("the environment has no Cilium module: its security group rules cannot be derived");
    type CiliumValues = { routingMode?: string; tunnelProtocol?: string; hubble?: { enabled?: boolean }; encryption?: { enabled?: boolean; type?: string } };
    const values = (parseYamlDocuments(module.content.valuesTemplate)[0] ?? {}) as CiliumValues;
    if (values.routingMode === "native") return [{ description: "Cilium native routing (all traffic between nodes)", protocol: "-1", fromPort: -1, toPort: 65535 }];
    const rules: CniIngressRule[] = [
        values.tunnelProtocol === "geneve"
            ? { description: "Cilium Geneve overlay", protocol: "udp", fromPort: 6081, toPort: 6081 }
            : { description: "Cilium VXLAN overlay", protocol: "udp", fromPort: 8472, toPort: 8472 },
        { description: "Cilium health checks (cilium-health)", protocol: "tcp", fromPort: 4240, toPort: 4240 },
        { description: "Cilium health checks (ICMP echo)", protocol: "icmp", fromPort: 8, toPort: 0 },
    ];
    if (values.hubble?.enabled !== false) rules.push({ description: "Cilium Hubble server", protocol: "tcp", fromPort: 4244, toPort: 4244 });
    if (values.encryption?.enabled && values.encryption.type === "wireguard") rules.push({ description: "Cilium WireGuard encryption", protocol: "udp", fromPort: 51871, toPort: 51871 });
    if (values.encryption?.enabled && values.encryption.type !== "wireguard") rules.push({ description: "Cilium IPsec encryption (ESP)", protocol: "50", fromPort: -1, toPort: 65535 });
    return rules;
}

function awsParts(env: EnvironmentSpec, cluster: ClusterSpec): ProviderParts {
    const aws = env.aws;
    if (!aws) throw new Error(`environment ${env.environment}: provider is "aws" but the aws settings are missing`);
    const machine = (instanceType: string, iamInstanceProfile: string) => ({
        iamInstanceProfile,
        instanceType,
        // "" means no key pair; CAPA would otherwise use a key pair named "default".
        sshKeyName: aws.sshKeyName,
    });
    return {
        infraClusterKind: "AWSCluster",
        infraClusterSpec: {
            region: aws.region,
            sshKeyName: aws.sshKeyName,
            controlPlaneLoadBalancer: { loadBalancerType: "nlb", healthCheckProtocol: "HTTPS" },
            network: { cni: { cniIngressRules: ciliumIngressRules(env) } },
            additionalTags: sortedRecord({
                [awsTagKeys.environment]: env.environment,
                [awsTagKeys.cluster]: cluster.name,
            }),
        },
        machineTemplateKind: "AWSMachineTemplate",
        controlPlaneMachine: machine(cluster.controlPlane.machineType, awsInstanceProfiles.controlPlane),
        workerMachine: machine(cluster.workers.machineType, awsInstanceProfiles.nodes),
        clusterConfiguration: { controllerManager: { extraArgs: externalCloudProvider } },
        nodeRegistration: { kubeletExtraArgs: externalCloudProvider, name: awsNodeName },
    };
}

function providerParts(env: EnvironmentSpec, cluster: ClusterSpec): ProviderParts {
    switch (env.provider) {
        case "docker":
            return dockerParts(env, cluster);
        case "aws":
            return awsParts(env, cluster);
        default:
            throw new Error(`environment ${env.environment}: unknown infrastructure provider ${JSON.stringify(env.provider)}`);
    }
}

/**
 * Template names carry a short hash of their content. Machine templates are immutable upstream (CAPA and
 * CAPD reject spec updates), so a changed machine type must become a new template, which Cluster API then
 * rolls out; a content-derived name does exactly that, and stays byte-identical while nothing changes.
 */
export function templateName(base: string, spec: unknown): string {
    const hash = createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 8);
    return `${base}-${hash}`;
}

function ref(group: string, kind: string, name: string) {
    return { apiGroup: group, kind, name };
}

/**
 * The Cluster API objects of one cluster in `env.clusterNamespace`. For the management cluster every
 * object carries `kustomize.toolkit.fluxcd.io/prune: disabled`, in the bootstrap apply as in Git, so
 * Flux applying the committed definition after the pivot is a no-op and never deletes it.
 */
export function renderClusterObjects(env: EnvironmentSpec, cluster: ClusterSpec): K8sObject[] {
    const parts = providerParts(env, cluster);
    const names = clusterObjectNames(cluster);
    const namespace = env.clusterNamespace;
    const annotations = isManagementCluster(env, cluster) ? { ...pruneDisabledAnnotation } : undefined;
    const meta = (name: string, labels?: Record<string, string>): ObjectMeta => ({
        name,
        namespace,
        labels: labels ?? { [clusterNameLabel]: cluster.name },
        ...(annotations ? { annotations: { ...annotations } } : {}),
    });
    const infraVersion = `${apiGroups.infrastructure}/${capiVersion}`;

    const controlPlaneMachineTemplate = { template: { spec: parts.controlPlaneMachine } };
    const workerMachineTemplate = { template: { spec: parts.workerMachine } };
    const workerBootstrapTemplate = {
        template: { spec: { joinConfiguration: { nodeRegistration: parts.nodeRegistration } } },
    };
    const cpTemplateName = templateName(names.controlPlane, controlPlaneMachineTemplate);
    const workerTemplateName = templateName(names.machineDeployment, workerMachineTemplate);
    const bootstrapTemplateName = templateName(names.machineDeployment, workerBootstrapTemplate);
    const mdSelector = { [clusterNameLabel]: cluster.name, [deploymentNameLabel]: names.machineDeployment };

    return [
        {
            apiVersion: `${apiGroups.cluster}/${capiVersion}`,
            kind: "Cluster",
            metadata: meta(names.cluster, clusterLabels(env, cluster)),
            spec: {
                clusterNetwork: {
                    pods: { cidrBlocks: [cluster.network.podCidr] },
                    services: { cidrBlocks: [cluster.network.serviceCidr] },
                    serviceDomain: "cluster.local",
                },
                controlPlaneRef: ref(apiGroups.controlPlane, "KubeadmControlPlane", names.controlPlane),
                infrastructureRef: ref(apiGroups.infrastructure, parts.infraClusterKind, names.cluster),
            },
        },
        {
            apiVersion: infraVersion,
            kind: parts.infraClusterKind,
            metadata: meta(names.cluster),
            spec: parts.infraClusterSpec,
        },
        {
            apiVersion: `${apiGroups.controlPlane}/${capiVersion}`,
            kind: "KubeadmControlPlane",
            metadata: meta(names.controlPlane),
            spec: {
                replicas: cluster.controlPlane.replicas,
                version: env.versions.kubernetes,
                machineTemplate: {
                    spec: { infrastructureRef: ref(apiGroups.infrastructure, parts.machineTemplateKind, cpTemplateName) },
                },
                kubeadmConfigSpec: {
                    clusterConfiguration: parts.clusterConfiguration,
                    initConfiguration: { nodeRegistration: parts.nodeRegistration },
                    joinConfiguration: { nodeRegistration: parts.nodeRegistration },
                },
            },
        },
        {
            apiVersion: infraVersion,
            kind: parts.machineTemplateKind,
            metadata: meta(cpTemplateName),
            spec: controlPlaneMachineTemplate,
        },
        {
            apiVersion: `${apiGroups.cluster}/${capiVersion}`,
            kind: "MachineDeployment",
            metadata: meta(names.machineDeployment),
            spec: {
                clusterName: cluster.name,
                replicas: cluster.workers.replicas,
                // What the Cluster API defaulting webhook would set, spelled out so that applying the
                // object again (Flux after the pivot) changes nothing.
                selector: { matchLabels: { ...mdSelector } },
                template: {
                    metadata: { labels: { ...mdSelector } },
                    spec: {
                        clusterName: cluster.name,
                        version: env.versions.kubernetes,
                        bootstrap: { configRef: ref(apiGroups.bootstrap, "KubeadmConfigTemplate", bootstrapTemplateName) },
                        infrastructureRef: ref(apiGroups.infrastructure, parts.machineTemplateKind, workerTemplateName),
                    },
                },
            },
        },
        {
            apiVersion: infraVersion,
            kind: parts.machineTemplateKind,
            metadata: meta(workerTemplateName),
            spec: workerMachineTemplate,
        },
        {
            apiVersion: `${apiGroups.bootstrap}/${capiVersion}`,
            kind: "KubeadmConfigTemplate",
            metadata: meta(bootstrapTemplateName),
            spec: workerBootstrapTemplate,
        },
    ].map(deepCopy);
}

/** Objects share no structure (the same args array is used in init and join), so callers may mutate them safely. */
function deepCopy<T>(value: T): T {
    return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * kind configuration of the temporary cluster: one control-plane node on the pinned node image; with
 * CAPD the host's Docker socket is mounted so the Docker provider running inside can create machines.
 */
export function renderKindConfig(env: EnvironmentSpec): string {
    const node: Record<string, unknown> = { role: "control-plane", image: env.temporaryCluster.nodeImage };
    if (env.provider === "docker") {
        node.extraMounts = [{ hostPath: dockerSocket, containerPath: dockerSocket }];
    }
    return dumpYaml({
        kind: "Cluster",
        apiVersion: "kind.x-k8s.io/v1alpha4",
        name: env.temporaryCluster.name,
        nodes: [node],
    });
}
