// Turns an offline plan into the graph the critical-path scheduler works on: which documented
// duration each resource takes (docs/step-durations.md), which steps form the unavoidable chain,
// and which resources belong to work that must stay off the critical path.
import { ancestors, type Plan, type PlannedResource } from "../planner";
import type { GraphNode, StepPart } from "./criticalPath";
import type { Duration } from "./durations";

/** The five steps that must run one after the other whatever the program does. */
export const chainRoles = ["temporary cluster", "providers on temporary", "management cluster ready", "providers on permanent", "move"] as const;
export type ChainRole = (typeof chainRoles)[number];

/** Work that the target says must stay off the critical path. */
export type OffPathGroup = "AWS IAM" | "Flux preparation" | "bootstrap modules";

export interface PlanGraph {
    nodes: GraphNode[];
    chain: Map<ChainRole, GraphNode>;
    groups: Map<OffPathGroup, GraphNode[]>;
    /** Dependencies added because the plan does not record them (a resource's `provider`). */
    inferredProviderEdges: number;
    unmapped: string[];
}

const stepOf = (r: PlannedResource) => ((r.inputs.environment ?? {}) as Record<string, unknown>).FLEET_STEP as string | undefined;
const targetOf = (r: PlannedResource) => ((r.inputs.environment ?? {}) as Record<string, unknown>).FLEET_TARGET as string | undefined;

/** Components are this program's own types (`fleet:`); everything else is a custom resource. */
export function isComponent(r: PlannedResource): boolean {
    return r.type.startsWith("fleet:");
}

function ancestorTypes(r: PlannedResource, byUrn: Map<string, PlannedResource>): string[] {
    return ancestors(r, byUrn).map((owner) => owner.type);
}

/** The duration keys a resource takes, or undefined when none applies (an unknown type). */
export function durationKeys(r: PlannedResource, plan: Plan, byUrn: Map<string, PlannedResource>): string[] | undefined {
    if (isComponent(r) || r.type.startsWith("pulumi:")) return [];
    if (r.type === "command:local:Command") {
        switch (stepOf(r)) {
            case "preflight":
                return ["preflight"];
            case "temporary-cluster-create":
                return ["kind-create"];
            case "capi-providers":
                return ["clusterctl-init", "poll-latency"];
            case "management-cluster":
                return [plan.spec.provider === "aws" ? "capa-cluster-ready" : "capd-cluster-ready", "poll-latency"];
            case "pivot":
                return ["clusterctl-move", "pivot-guards", "pivot-rollout-watch"];
            case "fleet-source":
                return ["fleet-source"];
            case undefined:
                return ancestorTypes(r, byUrn).includes("fleet:index:AwsClusterGuard") ? ["aws-call"] : undefined;
            default:
                return undefined;
        }
    }
    if (r.type === "kubernetes:helm.sh/v3:Release") return ["helm-release"];
    if (r.type === "kubernetes:fluxcd.controlplane.io/v1:FluxInstance") return ["flux-instance-ready"];
    if (r.type === "kubernetes:fluxcd.controlplane.io/v1:FluxInstancePatch") return ["flux-sync"];
    if (r.type.startsWith("kubernetes:")) return ["k8s-apply"];
    const iam: Record<string, string> = {
        "aws:iam/role:Role": "iam-role",
        "aws:iam/policy:Policy": "iam-policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "iam-attachment",
        "aws:iam/instanceProfile:InstanceProfile": "iam-instance-profile",
    };
    if (iam[r.type]) return [iam[r.type]];
    if (r.type.startsWith("aws:")) return ["aws-call"];
    return undefined;
}

function chainRole(r: PlannedResource): ChainRole | undefined {
    if (r.type !== "command:local:Command") return undefined;
    switch (stepOf(r)) {
        case "temporary-cluster-create":
            return "temporary cluster";
        case "capi-providers":
            return targetOf(r) === "permanent" ? "providers on permanent" : "providers on temporary";
        case "management-cluster":
            return "management cluster ready";
        case "pivot":
            return "move";
        default:
            return undefined;
    }
}

function offPathGroup(r: PlannedResource, byUrn: Map<string, PlannedResource>): OffPathGroup | undefined {
    if (isComponent(r)) return undefined;
    const above = ancestorTypes(r, byUrn);
    if (above.includes("fleet:index:AwsIam")) return "AWS IAM";
    // The sync patch is the hand-off after the move, not preparation: it can only start once the move is verified.
    if (above.includes("fleet:index:FluxInstall") && r.type !== "kubernetes:fluxcd.controlplane.io/v1:FluxInstancePatch") return "Flux preparation";
    if (above.includes("fleet:index:BootstrapModule")) return "bootstrap modules";
    // The clusters' namespace exists for the modules (they live beside the clusters they select).
    if (r.type === "kubernetes:core/v1:Namespace" && above[0] === "fleet:index:Environment") return "bootstrap modules";
    return undefined;
}

/** The plan as a schedulable graph, with documented durations. Throws when a needed figure is missing. */
export function planGraph(plan: Plan, table: Map<string, Duration>): PlanGraph {
    const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
    // The plan records explicit and data dependencies, not the `provider` option. In this program every
    // Kubernetes resource is applied through the one provider of the permanent cluster, whose kubeconfig
    // comes from the management-cluster step: without this edge the Flux and module objects would look
    // as if they could start at time zero.
    const k8sProviders = plan.resources.filter((r) => r.type === "pulumi:providers:kubernetes");
    let inferred = 0;
    const unmapped: string[] = [];
    const nodes: GraphNode[] = plan.resources.map((r) => {
        const dependsOn = [...r.dependsOn];
        if (r.type.startsWith("kubernetes:") && k8sProviders.length === 1 && !dependsOn.includes(k8sProviders[0].urn)) {
            dependsOn.push(k8sProviders[0].urn);
            inferred++;
        }
        const keys = durationKeys(r, plan, byUrn);
        if (keys === undefined) unmapped.push(`${r.type} ${r.name}`);
        const parts: StepPart[] = (keys ?? []).map((key) => {
            const d = table.get(key);
            if (!d) throw new Error(`docs/step-durations.md has no figure for \`${key}\` (needed by ${r.type} ${r.name})`);
            return { key, seconds: d.seconds, kind: d.kind };
        });
        return { urn: r.urn, name: r.name, type: r.type, parent: r.parent, dependsOn, component: isComponent(r), parts };
    });
    const nodeByUrn = new Map(nodes.map((n) => [n.urn, n]));
    const chain = new Map<ChainRole, GraphNode>();
    const groups = new Map<OffPathGroup, GraphNode[]>();
    for (const r of plan.resources) {
        const role = chainRole(r);
        if (role) {
            if (chain.has(role)) throw new Error(`two steps play the role "${role}": ${chain.get(role)!.name} and ${r.name}`);
            chain.set(role, nodeByUrn.get(r.urn)!);
        }
        const group = offPathGroup(r, byUrn);
        if (group) groups.set(group, [...(groups.get(group) ?? []), nodeByUrn.get(r.urn)!]);
    }
    const missing = chainRoles.filter((role) => !chain.has(role));
    if (missing.length > 0) throw new Error(`the plan has no step for: ${missing.join(", ")}`);
    return { nodes, chain, groups, inferredProviderEdges: inferred, unmapped };
}

/** Seconds of upstream work (not the program's own waits) in the unavoidable chain. */
export function unavoidableSeconds(graph: PlanGraph): number {
    return chainRoles.reduce((s, role) => s + graph.chain.get(role)!.parts.filter((p) => p.kind !== "program").reduce((a, p) => a + p.seconds, 0), 0);
}
