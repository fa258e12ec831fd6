// Types of the fake world (world.js) for the TypeScript tests.

export interface ObjectMeta {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
    managedFields?: { manager: string; operation: string }[];
}

export interface K8sObj {
    apiVersion: string;
    kind: string;
    metadata: ObjectMeta;
    spec?: { paused?: boolean; suspend?: boolean; [field: string]: unknown };
    status?: {
        initialization?: { infrastructureProvisioned?: boolean; controlPlaneInitialized?: boolean };
        conditions?: { type: string; status: string; reason?: string; message?: string }[];
        nodeRef?: { name: string };
        [field: string]: unknown;
    };
    data?: Record<string, string>;
    [field: string]: unknown;
}

export interface KindInfo {
    kind: string;
    group: string;
    version: string;
    plural: string;
    namespaced: boolean;
    /** Label of the provider whose CRD serves the kind (null: built in). */
    provider: string | null;
    served: string[];
    deprecated: string[];
}

export interface ServerState {
    port: number;
    name: string;
    origin: "kind" | "capi";
    reachable: boolean;
    clock: number;
    installed: string[];
    objects: Record<string, Record<string, K8sObj>>;
    sim: {
        clusters: Record<string, { stage: number; adopted?: boolean; permanentPort?: number; rolledOut?: boolean }>;
        deployments: Record<string, { readyAt: number }>;
    };
    webhookReadyAt: number | null;
    clientKey: string;
}

export interface Container {
    id: string;
    name: string;
    labels: Record<string, string>;
    image: string;
    status: string;
    /** Containers started with `docker run`: running or stopped, the network, the registry's probes and artifacts. */
    running?: boolean;
    network?: string;
    probesUntilReady?: number;
    /** Registry content: `<repository>:<tag>` → the pushed files (relative paths), revision and digest. */
    artifacts?: Record<string, { files: string[]; revision: string; digest: string }>;
}

export interface HistoryEvent {
    seq: number;
    event: "kind-create" | "kind-delete" | "management-cluster-created" | "move" | "rollout" | string;
    name?: string;
    heldClusters?: string[];
    [field: string]: unknown;
}

export interface FakeState {
    nextPort: number;
    seq: number;
    kind: Record<string, { port: number; image: string }>;
    servers: Record<string, ServerState>;
    /** `networks`: Docker networks (kind creates `kind`); `pulled`: images present locally. */
    docker: { containers: Container[]; networks?: string[]; pulled?: string[] };
    history: HistoryEvent[];
    ruleUse: Record<string, number>;
    managementClustersCreated: Record<string, number>;
}

/** One fault rule: matches an invocation whose argv holds the key's words in order. */
export interface FaultRule {
    /** How many matching invocations fail (default: all). */
    times?: number;
    /** Let this many matching invocations through first. */
    skip?: number;
    /** Only invocations whose argv includes all of these. */
    argv?: string[];
    /** Only invocations whose argv includes none of these. */
    notArgv?: string[];
    stdout?: string;
    stderr?: string;
    /** Exit code (default 1). */
    exit?: number;
    /**
     * Partial work before failing, per tool:
     * kind create cluster: "half-created" | "after-create"; kind delete cluster: "partial";
     * clusterctl init: "partial" (installs `installed` providers, default 1);
     * clusterctl move: "after-pause" | "mid-create" | "after-create" | "mid-delete" | "after-delete"
     *   (also "after-pause" with --to-directory); kubectl: "kill".
     */
    crash?: string;
    /** After the partial work, SIGKILL the step's process group (an interrupted `pulumi up`). */
    kill?: boolean;
    installed?: number;
}

export interface Scenario {
    /** Keys: "<tool> <word>...", e.g. "clusterctl move", "kubectl apply", "kind create cluster". */
    fail?: Record<string, FaultRule[]>;
    versions?: Partial<Record<"kind" | "clusterctl" | "kubectl" | "docker" | "age", string>>;
    dockerUnreachable?: boolean;
    /** `docker exec <registry> wget …` probes refused after a registry container (re)starts (default 1). */
    registryStartProbes?: number;
    /** Names of API servers (kind cluster or management cluster name) that refuse connections. */
    unreachable?: string[];
    /** Every n-th request to the named API server is refused. */
    flap?: Record<string, number>;
    /** Ticks until a new provider Deployment is Available (default 2). */
    deploymentReadyTicks?: number;
    /** Ticks after the core provider is Available until webhooks answer (default 1). */
    webhookDelayTicks?: number;
    /** Ticks after a provider is installed until its CRDs are Established (default 0). */
    crdEstablishedTicks?: number;
    /** Per Cluster name: the condition that never becomes True, with its message. */
    clusters?: Record<string, { stallAt: "InfrastructureReady" | "ControlPlaneInitialized" | "ControlPlaneAvailable" | "WorkersAvailable"; message?: string }>;
    /** After a move, the target's controllers replace one Machine. */
    rolloutAfterMove?: boolean;
}

export interface FileArg {
    flag: string;
    path: string;
    exists?: boolean;
    mode: string | null;
    dirMode: string | null;
}

export interface LogEntry {
    tool: string;
    argv: string[];
    env: string[];
    files: FileArg[];
    /** The kubeconfig used because none was named (--kubeconfig): $KUBECONFIG or ~/.kube/config. */
    defaultKubeconfig: string | null;
    /** ~/.kube/config was, or would have been, read or written by this invocation. */
    homeKubeConfigTouched: boolean;
    stdinBytes: number | null;
    exit: number;
    pid: number;
    ppid: number;
}

export class World {
    constructor(statePath: string, scenarioPath?: string);
    static emptyState(): FakeState;
    st: FakeState;
    sc: Scenario;
    save(): void;
    server(port: number): ServerState | null;
    serverByName(name: string): ServerState | null;
    createKindCluster(name: string, image?: string): ServerState;
    deleteKindCluster(name: string, event?: "kind-delete" | "kind-vanished"): boolean;
    kubeconfigFor(srv: ServerState): string;
    K(kind: string, group?: string): KindInfo | undefined;
    get(srv: ServerState, info: KindInfo, ns: string, name: string): K8sObj | null;
    list(srv: ServerState, info: KindInfo, ns?: string): K8sObj[];
    put(srv: ServerState, obj: K8sObj): K8sObj;
    ensureNamespace(srv: ServerState, ns: string): void;
    addContainer(name: string, labels: Record<string, string>, image: string): void;
    providerInventory(srv: ServerState): K8sObj[];
    installProvider(srv: ServerState, type: string, name: string, version: string, env?: Record<string, string>): void;
    machinesOf(srv: ServerState, cluster: K8sObj): K8sObj[];
    tick(srv: ServerState): void;
    seedProviders(srv: ServerState, pins: string[], opts?: { ready?: boolean; env?: Record<string, string> }): void;
    seedApply(srv: ServerState, yaml: string): void;
    settle(srv: ServerState, n?: number): void;
    seedPivot(src: ServerState, namespace: string, pins?: string[]): ServerState;
    knownSecrets(): string[];
}

export function b64(s: string): string;
export function unb64(s: string): string;
