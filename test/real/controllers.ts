// The controllers a real management cluster runs, played by the test process against real API
// servers, on a timer that keeps going while a step script or `pulumi up` runs as a child process.
// Each one does, through the API (status through the status subresource), what the upstream
// controller does for the objects the program creates, and nothing for the scripts in particular:
//   - Deployment controller + kubelet: every Deployment reports its replicas ready and Available, with
//     the ReplicaSet the deployment controller keeps for it (Helm's --wait reads that one).
//   - Flux Operator (where its Deployment runs): the FluxInstance `flux` Ready for its generation, until
//     a tier hands it over to the real operator (handOver; the controllers tier, test/real/flux.ts).
//   - Cluster API core (runs where its Deployment capi-controller-manager has replicas): Cluster
//     owner references on its infrastructure cluster, control plane and machine templates,
//     status.initialization, v1beta2 conditions; MachineDeployment -> MachineSet -> Machines; Machine
//     spec.bootstrap.dataSecretName and spec.providerID from its bootstrap config and infrastructure
//     machine, status.nodeRef once the Node exists in the workload cluster.
//   - kubeadm control plane: the cluster certificates and <cluster>-kubeconfig Secret (data key
//     `value`: the permanent server's kubeconfig, so the management cluster IS the permanent server),
//     one control-plane Machine at a time (KubeadmConfig + DockerMachine cloned from the template).
//   - kubeadm bootstrap: a bootstrap data Secret per KubeadmConfig owned by a Machine.
//   - CAPD: DockerCluster provisioned (load balancer container), DockerMachine provisioned (a node
//     container; its kubelet registers a Node in the permanent server).
// A provider's controllers act only on a server where its Deployment exists with replicas > 0 (so
// nothing happens on a server without providers, and CAAPH scaled to 0 stops). A paused Cluster
// (spec.paused, or the cluster.x-k8s.io/paused annotation) is left alone with everything of it,
// as clusterctl move relies on. Finalizers are set as upstream sets them and removed on deletion.
import * as crypto from "node:crypto";
import { KubeApiServer } from "./kubeApiServer";
import { KubeClient, KubeObject, OwnerReference, Resource, apiVersionOf } from "./kubeClient";
import { WebhookServer, routeWebhooks } from "./webhooks";

const capi = (group: string, plural: string): Resource => ({ group, version: "v1beta2", plural, namespaced: true });
export const R = {
    deployment: { group: "apps", version: "v1", plural: "deployments", namespaced: true },
    replicaSet: { group: "apps", version: "v1", plural: "replicasets", namespaced: true },
    fluxInstance: { group: "fluxcd.controlplane.io", version: "v1", plural: "fluxinstances", namespaced: true },
    secret: { group: "", version: "v1", plural: "secrets", namespaced: true },
    node: { group: "", version: "v1", plural: "nodes", namespaced: false },
    cluster: capi("cluster.x-k8s.io", "clusters"),
    machine: capi("cluster.x-k8s.io", "machines"),
    machineSet: capi("cluster.x-k8s.io", "machinesets"),
    machineDeployment: capi("cluster.x-k8s.io", "machinedeployments"),
    kubeadmControlPlane: capi("controlplane.cluster.x-k8s.io", "kubeadmcontrolplanes"),
    kubeadmConfig: capi("bootstrap.cluster.x-k8s.io", "kubeadmconfigs"),
    kubeadmConfigTemplate: capi("bootstrap.cluster.x-k8s.io", "kubeadmconfigtemplates"),
    dockerCluster: capi("infrastructure.cluster.x-k8s.io", "dockerclusters"),
    dockerMachine: capi("infrastructure.cluster.x-k8s.io", "dockermachines"),
    dockerMachineTemplate: capi("infrastructure.cluster.x-k8s.io", "dockermachinetemplates"),
    devCluster: capi("infrastructure.cluster.x-k8s.io", "devclusters"),
    devMachine: capi("infrastructure.cluster.x-k8s.io", "devmachines"),
    devMachineTemplate: capi("infrastructure.cluster.x-k8s.io", "devmachinetemplates"),
} satisfies Record<string, Resource>;

const BY_KIND: Record<string, Resource> = {
    Cluster: R.cluster,
    Machine: R.machine,
    MachineSet: R.machineSet,
    MachineDeployment: R.machineDeployment,
    KubeadmControlPlane: R.kubeadmControlPlane,
    KubeadmConfig: R.kubeadmConfig,
    KubeadmConfigTemplate: R.kubeadmConfigTemplate,
    DockerCluster: R.dockerCluster,
    DockerMachine: R.dockerMachine,
    DockerMachineTemplate: R.dockerMachineTemplate,
    DevCluster: R.devCluster,
    DevMachine: R.devMachine,
    DevMachineTemplate: R.devMachineTemplate,
};
// CAPD's kinds: the classic Docker* and the Dev* ones with the docker backend (what the program uses).
const CAPD_CLUSTERS = ["DockerCluster", "DevCluster"];
const CAPD_MACHINES = ["DockerMachine", "DevMachine"];

const CLUSTER_NAME = "cluster.x-k8s.io/cluster-name";
const CONTROL_PLANE_NAME = "cluster.x-k8s.io/control-plane-name";
const PAUSED = "cluster.x-k8s.io/paused";

export interface Container {
    id: string;
    name: string;
    image: string;
    labels: Record<string, string>;
}

interface Ref {
    apiGroup: string;
    kind: string;
    name: string;
}

function resourceOf(kind: string): Resource {
    const r = BY_KIND[kind];
    if (!r) throw new Error(`the harness plays no controller for kind ${kind}`);
    return r;
}

// Names as the API server's generateName makes them.
function suffix(): string {
    const alphabet = "bcdfghjklmnpqrstvwxz2456789";
    return Array.from(crypto.randomBytes(5), (b) => alphabet[b % alphabet.length]).join("");
}

function ownerRef(owner: KubeObject, controller: boolean): OwnerReference {
    return {
        apiVersion: owner.apiVersion,
        kind: owner.kind,
        name: owner.metadata.name,
        uid: owner.metadata.uid as string,
        ...(controller ? { controller: true, blockOwnerDeletion: true } : {}),
    };
}

function ownedBy(obj: KubeObject, owner: KubeObject): boolean {
    return (obj.metadata.ownerReferences ?? []).some((o) => o.uid === owner.metadata.uid);
}

function condition(type: string, ok: boolean, reason: string, message = "") {
    return { type, status: ok ? "True" : "False", reason, message, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") };
}

/** Conditions as upstream keeps them: lastTransitionTime changes only when the status does. */
function conditions(previous: { type: string; status: string; lastTransitionTime?: string }[] | undefined, next: ReturnType<typeof condition>[]) {
    return next.map((c) => {
        const before = (previous ?? []).find((p) => p.type === c.type);
        return before && before.status === c.status ? { ...c, lastTransitionTime: before.lastTransitionTime } : c;
    });
}

function b64(s: string): string {
    return Buffer.from(s).toString("base64");
}

function sameStatus(before: unknown, after: unknown): boolean {
    const strip = (v: unknown) => JSON.stringify(v, (k, x) => (k === "lastTransitionTime" ? undefined : x));
    return strip(before) === strip(after);
}

export interface ControllerOptions {
    /** The workload cluster of the management Cluster: Machines become its Nodes, its kubeconfig goes into <cluster>-kubeconfig. */
    permanent: KubeApiServer;
    webhooks: WebhookServer;
    /** CAPD's docker containers (load balancer and nodes) are added here, by name. */
    containers: Map<string, Container>;
    /**
     * The one Cluster the controllers provision: its workload cluster is `permanent`. Any other
     * Cluster would need a server of its own, so it stays unprovisioned here.
     */
    managementCluster: { name: string; namespace: string };
}

/** The controllers the harness plays that a tier can hand over to the real one (test/real/flux.ts). */
export type PlayedController = "flux-operator";

/** One server's controllers. */
class ServerControllers {
    private readonly client: KubeClient;
    private readonly crdVersions = new Map<string, string>();
    private running = new Set<string>();

    constructor(
        readonly server: KubeApiServer,
        private readonly opts: ControllerOptions,
        private readonly permanentClient: KubeClient,
        private readonly handedOver: ReadonlySet<PlayedController>,
    ) {
        this.client = new KubeClient(server);
    }

    close(): void {
        this.client.close();
    }

    async reconcile(): Promise<void> {
        await this.deployments();
        await this.fluxOperator();
        await routeWebhooks(this.client, this.opts.webhooks, this.crdVersions);
        if (!this.running.has("cluster-api")) return;
        for (const cluster of await this.client.list(R.cluster)) {
            if (cluster.metadata.deletionTimestamp) {
                await this.finalize(R.cluster, cluster);
                continue;
            }
            if (cluster.spec?.paused === true || cluster.metadata.annotations?.[PAUSED] !== undefined) continue;
            const managed = this.opts.managementCluster;
            if (cluster.metadata.name !== managed.name || cluster.metadata.namespace !== managed.namespace) continue;
            await this.reconcileCluster(cluster);
        }
    }

    // Deployment controller and kubelet: replicas ready, Available. Records which providers run.
    private async deployments(): Promise<void> {
        const running = new Set<string>();
        for (const d of await this.client.list(R.deployment)) {
            const replicas = d.spec?.replicas ?? 1;
            const provider = d.metadata.labels?.["cluster.x-k8s.io/provider"];
            if (provider && replicas > 0) running.add(provider);
            const status = {
                observedGeneration: d.metadata.generation,
                replicas,
                updatedReplicas: replicas,
                readyReplicas: replicas,
                availableReplicas: replicas,
                conditions: conditions(d.status?.conditions, [
                    condition("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability."),
                    condition("Progressing", true, "NewReplicaSetAvailable", `ReplicaSet "${d.metadata.name}" has successfully progressed.`),
                ]),
            };
            if (!sameStatus(d.status, status)) await this.client.mergePatch(R.deployment, d.metadata.namespace, d.metadata.name, { status }, "status");
            await this.replicaSet(d, replicas);
        }
        this.running = running;
    }

    // The Flux Operator, where its Deployment runs: it reconciles the FluxInstance `flux` (installing the
    // distribution, which here has no images to run) and reports it Ready for the generation it saw.
    private async fluxOperator(): Promise<void> {
        if (this.handedOver.has("flux-operator")) return;
        const operator = (await this.client.list(R.deployment)).find((d) => d.metadata.name === "flux-operator" && (d.spec?.replicas ?? 1) > 0);
        if (!operator) return;
        for (const instance of await this.client.list(R.fluxInstance, operator.metadata.namespace)) {
            if (instance.metadata.name !== "flux" || instance.metadata.annotations?.["fluxcd.controlplane.io/reconcile"] === "disabled") continue;
            const status = {
                observedGeneration: instance.metadata.generation,
                conditions: conditions(instance.status?.conditions, [condition("Ready", true, "ReconciliationSucceeded", "Reconciliation finished")]),
            };
            if (!sameStatus(instance.status, status)) await this.client.mergePatch(R.fluxInstance, instance.metadata.namespace, "flux", { status }, "status");
        }
    }

    // The Deployment's current ReplicaSet, as the deployment controller keeps it: named and labelled with the
    // pod-template-hash, its template the Deployment's, owned by it, its replicas ready (Helm's --wait reads
    // readiness from it, not from the Deployment).
    private async replicaSet(d: KubeObject, replicas: number): Promise<void> {
        const template = d.spec?.template as { metadata?: { labels?: Record<string, string> } } | undefined;
        if (!template) return;
        const hash = crypto.createHash("sha256").update(JSON.stringify(template)).digest("hex").replace(/[^b-df-hj-np-tv-z2-9]/g, "").slice(0, 10);
        const name = `${d.metadata.name}-${hash}`;
        const labels = { ...template.metadata?.labels, "pod-template-hash": hash };
        const ns = d.metadata.namespace;
        let rs = await this.client.get(R.replicaSet, ns, name);
        if (!rs) {
            rs = await this.client.create(R.replicaSet, {
                apiVersion: "apps/v1",
                kind: "ReplicaSet",
                metadata: {
                    name,
                    namespace: ns,
                    labels,
                    annotations: { "deployment.kubernetes.io/desired-replicas": String(replicas), "deployment.kubernetes.io/revision": "1" },
                    ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: d.metadata.name, uid: d.metadata.uid as string, controller: true, blockOwnerDeletion: true }],
                },
                spec: {
                    replicas,
                    selector: { matchLabels: { ...(d.spec?.selector as { matchLabels?: Record<string, string> })?.matchLabels, "pod-template-hash": hash } },
                    template: { ...template, metadata: { ...template.metadata, labels } },
                },
            });
        }
        const status = { replicas, fullyLabeledReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: rs.metadata.generation };
        if (!sameStatus(rs.status, status)) await this.client.mergePatch(R.replicaSet, ns, name, { status }, "status");
    }

    private async finalize(r: Resource, obj: KubeObject): Promise<void> {
        if (CAPD_MACHINES.includes(obj.kind) || CAPD_CLUSTERS.includes(obj.kind)) {
            const name = CAPD_CLUSTERS.includes(obj.kind) ? `${obj.metadata.name}-lb` : obj.metadata.name;
            this.opts.containers.delete(name);
        }
        if ((obj.metadata.finalizers ?? []).length > 0) {
            await this.client.mergePatch(r, obj.metadata.namespace, obj.metadata.name, { metadata: { finalizers: null } });
        }
    }

    private async ensureMeta(r: Resource, obj: KubeObject, owner: KubeObject | undefined, controller: boolean, finalizer?: string): Promise<KubeObject> {
        const refs = obj.metadata.ownerReferences ?? [];
        const patch: { metadata: Record<string, unknown> } = { metadata: {} };
        if (owner && !ownedBy(obj, owner)) patch.metadata.ownerReferences = [...refs, ownerRef(owner, controller)];
        if (finalizer && !(obj.metadata.finalizers ?? []).includes(finalizer)) patch.metadata.finalizers = [...(obj.metadata.finalizers ?? []), finalizer];
        if (Object.keys(patch.metadata).length === 0) return obj;
        return this.client.mergePatch(r, obj.metadata.namespace, obj.metadata.name, patch);
    }

    private async patchStatus(r: Resource, obj: KubeObject, status: Record<string, unknown>): Promise<void> {
        const merged = { ...(obj.status ?? {}), ...status };
        if (sameStatus(obj.status, merged)) return;
        await this.client.mergePatch(r, obj.metadata.namespace, obj.metadata.name, { status }, "status");
    }

    private async getRef(namespace: string, ref: Ref | undefined): Promise<KubeObject | undefined> {
        if (!ref) return undefined;
        return this.client.get(resourceOf(ref.kind), namespace, ref.name);
    }

    private async reconcileCluster(cluster: KubeObject): Promise<void> {
        const ns = cluster.metadata.namespace as string;
        const name = cluster.metadata.name;
        cluster = await this.ensureMeta(R.cluster, cluster, undefined, false, "cluster.cluster.x-k8s.io");
        let infra = await this.getRef(ns, cluster.spec?.infrastructureRef);
        if (infra) infra = await this.ensureMeta(resourceOf(infra.kind), infra, cluster, true);
        let kcp = await this.getRef(ns, cluster.spec?.controlPlaneRef);
        if (kcp) kcp = await this.ensureMeta(R.kubeadmControlPlane, kcp, cluster, true);

        if (infra && CAPD_CLUSTERS.includes(infra.kind) && this.running.has("infrastructure-docker")) infra = await this.dockerCluster(infra, cluster);
        const infraProvisioned = infra?.status?.initialization?.provisioned === true;
        if (infraProvisioned && !cluster.spec?.controlPlaneEndpoint?.host) {
            cluster = await this.client.mergePatch(R.cluster, ns, name, { spec: { controlPlaneEndpoint: infra?.spec?.controlPlaneEndpoint } });
        }

        const machines = (await this.client.list(R.machine, ns, `${CLUSTER_NAME}=${name}`));
        if (kcp && infraProvisioned && this.running.has("control-plane-kubeadm")) kcp = await this.kubeadmControlPlane(kcp, cluster, machines);
        const mds = (await this.client.list(R.machineDeployment, ns)).filter((md) => md.spec?.clusterName === name);
        const machineSets = await this.client.list(R.machineSet, ns, `${CLUSTER_NAME}=${name}`);
        if (infraProvisioned) {
            for (const md of mds) await this.machineDeployment(md, cluster, machineSets, machines);
        }
        const current = await this.client.list(R.machine, ns, `${CLUSTER_NAME}=${name}`);
        for (const m of current) {
            if (m.metadata.deletionTimestamp) await this.finalize(R.machine, m);
            else await this.machine(m, cluster);
        }

        // Cluster status from what its parts report.
        const cpInitialized = kcp?.status?.initialization?.controlPlaneInitialized === true;
        const cpAvailable = (kcp?.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === "Available" && c.status === "True");
        const latestMds = await this.client.list(R.machineDeployment, ns);
        const workersAvailable = latestMds
            .filter((md) => md.spec?.clusterName === name)
            .every((md) => (md.status?.availableReplicas ?? 0) >= (md.spec?.replicas ?? 1));
        const available = infraProvisioned && cpAvailable && workersAvailable;
        await this.patchStatus(R.cluster, cluster, {
            observedGeneration: cluster.metadata.generation,
            phase: cpInitialized ? "Provisioned" : infraProvisioned ? "Provisioning" : "Pending",
            initialization: { infrastructureProvisioned: infraProvisioned, controlPlaneInitialized: cpInitialized },
            conditions: conditions(cluster.status?.conditions, [
                condition("InfrastructureReady", infraProvisioned, infraProvisioned ? "Ready" : "NotReady"),
                condition("ControlPlaneInitialized", cpInitialized, cpInitialized ? "Initialized" : "NotInitialized"),
                condition("ControlPlaneAvailable", cpAvailable, cpAvailable ? "Available" : "NotAvailable"),
                condition("WorkersAvailable", workersAvailable, workersAvailable ? "Available" : "NotAvailable"),
                condition("RemoteConnectionProbe", cpInitialized, cpInitialized ? "ProbeSucceeded" : "ProbeFailed"),
                condition("RollingOut", false, "NotRollingOut"),
                condition("ScalingUp", false, "NotScalingUp"),
                condition("Paused", false, "NotPaused"),
                condition("Available", available, available ? "Available" : "NotAvailable"),
            ]),
        });
    }

    // CAPD: the load balancer container, the control plane endpoint (the permanent server: the
    // cluster being built IS the permanent one), provisioned.
    private async dockerCluster(infra: KubeObject, cluster: KubeObject): Promise<KubeObject> {
        infra = await this.ensureMeta(resourceOf(infra.kind), infra, undefined, false, "dockercluster.infrastructure.cluster.x-k8s.io");
        if (infra.status?.initialization?.provisioned === true) return infra;
        const lb = `${cluster.metadata.name}-lb`;
        this.addContainer(lb, cluster.metadata.name, "external-load-balancer", "kindest/haproxy:v20230606-42a2262b");
        const port = Number(new URL(this.opts.permanent.url).port);
        if (!infra.spec?.controlPlaneEndpoint?.host) {
            infra = await this.client.mergePatch(resourceOf(infra.kind), infra.metadata.namespace, infra.metadata.name, {
                spec: { controlPlaneEndpoint: { host: "127.0.0.1", port } },
            });
        }
        await this.patchStatus(resourceOf(infra.kind), infra, {
            initialization: { provisioned: true },
            conditions: conditions(infra.status?.conditions, [condition("Ready", true, "Ready"), condition("LoadBalancerAvailable", true, "Available")]),
        });
        return (await this.client.get(resourceOf(infra.kind), infra.metadata.namespace, infra.metadata.name)) as KubeObject;
    }

    private addContainer(name: string, cluster: string, role: string, image: string): void {
        if (this.opts.containers.has(name)) return;
        this.opts.containers.set(name, { id: crypto.randomBytes(6).toString("hex"), name, image, labels: { "io.x-k8s.kind.cluster": cluster, "io.x-k8s.kind.role": role } });
    }

    private async kubeadmControlPlane(kcp: KubeObject, cluster: KubeObject, machines: KubeObject[]): Promise<KubeObject> {
        const ns = kcp.metadata.namespace as string;
        const clusterName = cluster.metadata.name;
        kcp = await this.ensureMeta(R.kubeadmControlPlane, kcp, undefined, false, "kubeadm.controlplane.cluster.x-k8s.io");
        const template = await this.getRef(ns, kcp.spec?.machineTemplate?.spec?.infrastructureRef);
        if (template) await this.ensureMeta(resourceOf(template.kind), template, cluster, false);
        // The cluster certificates and the admin kubeconfig, owned by the control plane.
        const secrets: Record<string, Record<string, string>> = {
            ca: { "tls.crt": b64(this.opts.permanent.caPem), "tls.key": b64(`ca key of ${clusterName}`) },
            etcd: { "tls.crt": b64(`etcd ca of ${clusterName}`), "tls.key": b64(`etcd ca key of ${clusterName}`) },
            proxy: { "tls.crt": b64(`front-proxy ca of ${clusterName}`), "tls.key": b64(`front-proxy ca key of ${clusterName}`) },
            sa: { "tls.crt": b64(`service account public key of ${clusterName}`), "tls.key": b64(`service account key of ${clusterName}`) },
            kubeconfig: { value: b64(this.opts.permanent.kubeconfig) },
        };
        for (const [purpose, data] of Object.entries(secrets)) {
            const secretName = `${clusterName}-${purpose}`;
            if (await this.client.get(R.secret, ns, secretName)) continue;
            await this.client.create(R.secret, {
                apiVersion: "v1",
                kind: "Secret",
                type: "cluster.x-k8s.io/secret",
                metadata: { name: secretName, namespace: ns, labels: { [CLUSTER_NAME]: clusterName }, ownerReferences: [ownerRef(kcp, true)] },
                data,
            });
        }
        const own = machines.filter((m) => m.metadata.labels?.[CONTROL_PLANE_NAME] === kcp.metadata.name);
        const replicas = kcp.spec?.replicas ?? 1;
        const withNode = own.filter((m) => m.status?.nodeRef?.name);
        const initialized = withNode.length > 0;
        // One at a time, as KCP scales up: the first machine initializes, the others join.
        if (own.length < replicas && (own.length === 0 || withNode.length === own.length)) {
            await this.createMachine(cluster, kcp, {
                labels: { [CLUSTER_NAME]: clusterName, "cluster.x-k8s.io/control-plane": "", [CONTROL_PLANE_NAME]: kcp.metadata.name },
                name: `${kcp.metadata.name}-${suffix()}`,
                version: kcp.spec?.version,
                bootstrapSpec: own.length === 0
                    ? { ...kcp.spec?.kubeadmConfigSpec, joinConfiguration: undefined }
                    : { ...kcp.spec?.kubeadmConfigSpec, initConfiguration: undefined },
                infraTemplate: template,
            });
        }
        const ready = withNode.length;
        const available = initialized && ready >= replicas;
        await this.patchStatus(R.kubeadmControlPlane, kcp, {
            observedGeneration: kcp.metadata.generation,
            initialization: { controlPlaneInitialized: initialized },
            replicas: own.length,
            readyReplicas: ready,
            availableReplicas: ready,
            upToDateReplicas: own.length,
            version: kcp.spec?.version,
            selector: `${CLUSTER_NAME}=${clusterName},cluster.x-k8s.io/control-plane`,
            conditions: conditions(kcp.status?.conditions, [
                condition("Initialized", initialized, initialized ? "Initialized" : "NotInitialized"),
                condition("Available", available, available ? "Available" : "NotAvailable"),
                condition("RollingOut", false, "NotRollingOut"),
            ]),
        });
        return (await this.client.get(R.kubeadmControlPlane, ns, kcp.metadata.name)) as KubeObject;
    }

    // A Machine with its bootstrap config and infrastructure machine, as KCP and MachineSet create them.
    private async createMachine(
        cluster: KubeObject,
        owner: KubeObject,
        m: { name: string; labels: Record<string, string>; version: string; bootstrapSpec: unknown; infraTemplate: KubeObject | undefined },
    ): Promise<void> {
        const ns = owner.metadata.namespace as string;
        if (!m.infraTemplate) return;
        const machine = await this.client.create(R.machine, {
            apiVersion: apiVersionOf(R.machine),
            kind: "Machine",
            metadata: { name: m.name, namespace: ns, labels: m.labels, ownerReferences: [ownerRef(owner, true)] },
            spec: {
                clusterName: cluster.metadata.name,
                version: m.version,
                bootstrap: { configRef: { apiGroup: R.kubeadmConfig.group, kind: "KubeadmConfig", name: m.name } },
                infrastructureRef: { apiGroup: m.infraTemplate.apiVersion.split("/")[0], kind: m.infraTemplate.kind.replace(/Template$/, ""), name: m.name },
            },
        });
        await this.client.create(R.kubeadmConfig, {
            apiVersion: apiVersionOf(R.kubeadmConfig),
            kind: "KubeadmConfig",
            metadata: { name: m.name, namespace: ns, labels: m.labels, ownerReferences: [ownerRef(machine, true)] },
            spec: JSON.parse(JSON.stringify(m.bootstrapSpec ?? {})),
        });
        const infraKind = m.infraTemplate.kind.replace(/Template$/, "");
        await this.client.create(resourceOf(infraKind), {
            apiVersion: m.infraTemplate.apiVersion,
            kind: infraKind,
            metadata: { name: m.name, namespace: ns, labels: m.labels, ownerReferences: [ownerRef(machine, true)] },
            spec: JSON.parse(JSON.stringify(m.infraTemplate.spec?.template?.spec ?? {})),
        });
    }

    private async machineDeployment(md: KubeObject, cluster: KubeObject, machineSets: KubeObject[], machines: KubeObject[]): Promise<void> {
        const ns = md.metadata.namespace as string;
        md = await this.ensureMeta(R.machineDeployment, md, cluster, false);
        const tpl = md.spec?.template?.spec ?? {};
        const infraTemplate = await this.getRef(ns, tpl.infrastructureRef);
        if (infraTemplate) await this.ensureMeta(resourceOf(infraTemplate.kind), infraTemplate, cluster, false);
        const bootstrapTemplate = await this.getRef(ns, tpl.bootstrap?.configRef);
        if (bootstrapTemplate) await this.ensureMeta(R.kubeadmConfigTemplate, bootstrapTemplate, cluster, false);
        let ms = machineSets.find((s) => ownedBy(s, md));
        const replicas = md.spec?.replicas ?? 1;
        const labels = { ...(md.spec?.template?.metadata?.labels ?? {}), [CLUSTER_NAME]: cluster.metadata.name, "cluster.x-k8s.io/deployment-name": md.metadata.name };
        if (!ms) {
            const name = `${md.metadata.name}-${suffix()}`;
            ms = await this.client.create(R.machineSet, {
                apiVersion: apiVersionOf(R.machineSet),
                kind: "MachineSet",
                metadata: { name, namespace: ns, labels: { ...labels, "cluster.x-k8s.io/set-name": name }, ownerReferences: [ownerRef(md, true)] },
                spec: { clusterName: cluster.metadata.name, replicas, selector: { matchLabels: { ...labels } }, template: md.spec?.template },
            });
        }
        const own = machines.filter((m) => ownedBy(m, ms as KubeObject));
        for (let i = own.length; i < replicas && bootstrapTemplate && infraTemplate; i++) {
            await this.createMachine(cluster, ms, {
                name: `${ms.metadata.name}-${suffix()}`,
                labels: { ...labels, "cluster.x-k8s.io/set-name": ms.metadata.name },
                version: tpl.version,
                bootstrapSpec: bootstrapTemplate.spec?.template?.spec,
                infraTemplate,
            });
        }
        const ready = own.filter((m) => m.status?.nodeRef?.name).length;
        for (const [r, obj] of [[R.machineSet, ms], [R.machineDeployment, md]] as const) {
            await this.patchStatus(r, obj, {
                observedGeneration: obj.metadata.generation,
                replicas: own.length,
                readyReplicas: ready,
                availableReplicas: ready,
                upToDateReplicas: own.length,
                conditions: conditions(obj.status?.conditions, [condition("Available", ready >= replicas, ready >= replicas ? "Available" : "NotAvailable")]),
            });
        }
    }

    private async machine(machine: KubeObject, cluster: KubeObject): Promise<void> {
        const ns = machine.metadata.namespace as string;
        machine = await this.ensureMeta(R.machine, machine, undefined, false, "machine.cluster.x-k8s.io");
        const spec = machine.spec ?? {};
        let config = await this.getRef(ns, spec.bootstrap?.configRef);
        if (config) config = await this.ensureMeta(R.kubeadmConfig, config, machine, true);
        if (config && this.running.has("bootstrap-kubeadm") && !config.status?.dataSecretName) {
            // kubeadm bootstrap: the cloud-init that makes the node join.
            if (!(await this.client.get(R.secret, ns, config.metadata.name))) {
                await this.client.create(R.secret, {
                    apiVersion: "v1",
                    kind: "Secret",
                    type: "cluster.x-k8s.io/secret",
                    metadata: { name: config.metadata.name, namespace: ns, labels: { [CLUSTER_NAME]: cluster.metadata.name }, ownerReferences: [ownerRef(config, true)] },
                    data: { value: b64(`## template: jinja\n#cloud-config\n# kubeadm ${config.spec?.initConfiguration ? "init" : "join"} of ${machine.metadata.name}\n`), format: b64("cloud-config") },
                });
            }
            await this.patchStatus(R.kubeadmConfig, config, {
                dataSecretName: config.metadata.name,
                initialization: { dataSecretCreated: true },
                conditions: conditions(config.status?.conditions, [condition("Ready", true, "Ready"), condition("DataSecretAvailable", true, "Available")]),
            });
            config = await this.client.get(R.kubeadmConfig, ns, config.metadata.name);
        }
        const dataSecretName = config?.status?.dataSecretName;
        if (dataSecretName && !spec.bootstrap?.dataSecretName) {
            machine = await this.client.mergePatch(R.machine, ns, machine.metadata.name, { spec: { bootstrap: { dataSecretName } } });
        }
        let infra = await this.getRef(ns, spec.infrastructureRef);
        if (infra) infra = await this.ensureMeta(resourceOf(infra.kind), infra, machine, true);
        if (infra && CAPD_MACHINES.includes(infra.kind) && this.running.has("infrastructure-docker") && machine.spec?.bootstrap?.dataSecretName) {
            infra = await this.dockerMachine(infra, machine, cluster);
        }
        const providerID = infra?.spec?.providerID;
        if (providerID && !machine.spec?.providerID) {
            machine = await this.client.mergePatch(R.machine, ns, machine.metadata.name, { spec: { providerID } });
        }
        // The node, looked up in the workload cluster by provider ID, as the Machine controller does.
        let nodeName: string | undefined;
        if (providerID) {
            const nodes = await this.permanentClient.list(R.node);
            nodeName = nodes.find((n) => n.spec?.providerID === providerID)?.metadata.name;
        }
        const infraProvisioned = infra?.status?.initialization?.provisioned === true;
        await this.patchStatus(R.machine, machine, {
            observedGeneration: machine.metadata.generation,
            phase: nodeName ? "Running" : infraProvisioned ? "Provisioned" : "Provisioning",
            initialization: { bootstrapDataSecretCreated: !!dataSecretName, infrastructureProvisioned: infraProvisioned },
            ...(nodeName ? { nodeRef: { name: nodeName } } : {}),
            conditions: conditions(machine.status?.conditions, [
                condition("BootstrapConfigReady", !!dataSecretName, dataSecretName ? "Ready" : "NotReady"),
                condition("InfrastructureReady", infraProvisioned, infraProvisioned ? "Ready" : "NotReady"),
                condition("NodeReady", !!nodeName, nodeName ? "NodeReady" : "NodeDoesNotExist"),
                condition("NodeHealthy", !!nodeName, nodeName ? "NodeHealthy" : "NodeDoesNotExist"),
                condition("Ready", !!nodeName, nodeName ? "Ready" : "NotReady"),
                condition("Available", !!nodeName, nodeName ? "Available" : "NotAvailable"),
                condition("UpToDate", true, "UpToDate"),
            ]),
        });
    }

    // CAPD: a node container; kubeadm in it joins the workload cluster, whose kubelet registers the Node.
    private async dockerMachine(infra: KubeObject, machine: KubeObject, cluster: KubeObject): Promise<KubeObject> {
        infra = await this.ensureMeta(resourceOf(infra.kind), infra, undefined, false, "dockermachine.infrastructure.cluster.x-k8s.io");
        if (infra.status?.initialization?.provisioned === true) return infra;
        const name = machine.metadata.name;
        const controlPlane = machine.metadata.labels?.["cluster.x-k8s.io/control-plane"] !== undefined;
        this.addContainer(name, cluster.metadata.name, controlPlane ? "control-plane" : "worker", `kindest/node:${machine.spec?.version ?? "v1.33.1"}`);
        const providerID = `docker:////${name}`;
        if (!(await this.permanentClient.get(R.node, undefined, name))) {
            await this.permanentClient.create(R.node, {
                apiVersion: "v1",
                kind: "Node",
                metadata: { name, labels: { "kubernetes.io/hostname": name, ...(controlPlane ? { "node-role.kubernetes.io/control-plane": "" } : {}) } },
                spec: { providerID },
            });
        }
        infra = await this.client.mergePatch(resourceOf(infra.kind), infra.metadata.namespace, infra.metadata.name, { spec: { providerID } });
        await this.patchStatus(resourceOf(infra.kind), infra, {
            initialization: { provisioned: true },
            addresses: [{ type: "InternalDNS", address: name }],
            conditions: conditions(infra.status?.conditions, [condition("Ready", true, "Ready"), condition("ContainerProvisioned", true, "Provisioned")]),
        });
        return (await this.client.get(resourceOf(infra.kind), infra.metadata.namespace, infra.metadata.name)) as KubeObject;
    }
}

/**
 * The controllers of every given server, reconciling every `intervalMs` until stopped. Errors of one
 * pass (a server halted by `kind delete cluster`, a conflict) are kept in `lastError` and the next
 * pass retries, as controllers requeue.
 */
export class Controllers {
    private readonly perServer: ServerControllers[];
    private readonly permanentClient: KubeClient;
    private timer: NodeJS.Timeout | undefined;
    private busy = false;
    /** Servers (by name) whose controllers are stopped for now, as when a management cluster's providers are down. */
    private readonly paused = new Set<string>();
    readonly lastError = new Map<string, string>();
    private readonly handedOver = new Set<PlayedController>();

    constructor(servers: KubeApiServer[], opts: ControllerOptions) {
        this.permanentClient = new KubeClient(opts.permanent);
        this.perServer = servers.map((s) => new ServerControllers(s, opts, this.permanentClient, this.handedOver));
    }

    /** Stops playing `controller` for good (the real one runs now); resolves once no pass plays it any more. */
    async handOver(controller: PlayedController): Promise<void> {
        this.handedOver.add(controller);
        while (this.busy) await new Promise((r) => setTimeout(r, 20));
    }

    start(intervalMs = 250): void {
        this.timer = setInterval(() => void this.pass(), intervalMs);
    }

    private async pass(): Promise<void> {
        if (this.busy) return;
        this.busy = true;
        try {
            await Promise.all(
                this.perServer.filter((c) => !this.paused.has(c.server.name)).map(async (c) => {
                    try {
                        await c.reconcile();
                        this.lastError.delete(c.server.name);
                    } catch (e) {
                        this.lastError.set(c.server.name, (e as Error).message);
                    }
                }),
            );
        } finally {
            this.busy = false;
        }
    }

    /** Stops the controllers of one server; resolves once no pass of them is still running. */
    async pause(server: string): Promise<void> {
        this.paused.add(server);
        while (this.busy) await new Promise((r) => setTimeout(r, 20));
    }

    resume(server: string): void {
        this.paused.delete(server);
    }

    stop(): void {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
        for (const c of this.perServer) c.close();
        this.permanentClient.close();
    }
}
