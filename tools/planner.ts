// The offline plan: the real program (index.ts) run under Pulumi's mocks, recording every resource it
// registers with its options, dependencies and inputs, and every Kubernetes object it would apply.
// No CLI, cluster or cloud is contacted; every secret is replaced by "[secret]".
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { ConfigResult, parseConfig } from "../stacks/config";
import { EnvironmentSpec } from "../stacks/spec";
import { loadRawConfig, repoRoot } from "../stacks/stackFiles";
import { selectedClusters } from "../render/modules";
import { K8sObject } from "../render/types";
import { isK8sObject } from "../render/yaml";

export const SECRET = "[secret]";
const secretSig = "4dabf18193072939515e22adb298388d";
const unknownValue = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface PlannedResource {
    urn: string;
    type: string;
    name: string;
    parent?: string;
    dependsOn: string[];
    options: { protect: boolean; retainOnDelete: boolean; deletedWith?: string; ignoreChanges?: string[] };
    inputs: Record<string, unknown>;
}

export interface Plan {
    stack: string;
    spec: EnvironmentSpec;
    resources: PlannedResource[];
    outputs: Record<string, unknown>;
    /** Objects per target: `temporary`, `permanent`, or a downstream cluster's name. */
    manifests: Map<string, K8sObject[]>;
    /** Mock calls (invokes) the program made, e.g. the AWS duplicate-cluster lookup. */
    invokes: string[];
    /** Warnings the program logged (`pulumi.log.warn`), as `pulumi preview` would show them. */
    warnings: string[];
    /** The fleet repository files the program rendered for its drift check (`renderFleetRepository(spec)`):
     * `npm run bench` reuses them rather than rendering again. */
    fleetRepository: ReadonlyMap<string, string>;
}

export interface PlanOptions {
    stack: string;
    overrides?: Record<string, unknown>;
    /** Outputs of the stack's previous update, as a StackReference to itself would read them. */
    previousOutputs?: Record<string, unknown>;
    /** Answers to invokes by token (default: an empty account with no clusters). */
    invokeResults?: Record<string, Record<string, unknown>>;
    /** Run as `pulumi preview` does: step outputs (kubeconfigs) are unknown. */
    preview?: boolean;
    /** Tests only: keep secret values in `inputs`, to check they reach the resources that need them. */
    revealSecrets?: boolean;
}

/** Replaces Pulumi's secret envelopes by "[secret]" and unknowns by "[unknown]", recursively. */
export function redact(value: unknown): unknown {
    if (value === unknownValue) return "[unknown]";
    if (Array.isArray(value)) return value.map(redact);
    if (value && typeof value === "object") {
        if (secretSig in value) return SECRET;
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)]));
    }
    return value;
}

function unwrapSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object") {
        if (secretSig in value) return unwrapSecrets((value as unknown as { value: unknown }).value);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

const defaultInvokes: Record<string, Record<string, unknown>> = {
    "aws:ec2/getVpcs:getVpcs": { ids: [] },
    "aws:index/getPartition:getPartition": { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" },
    "aws:index/getCallerIdentity:getCallerIdentity": { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/plan", userId: "PLAN", id: "123456789012" },
};

/** Forget the program's modules so that a second plan in the same process runs the program afresh. */
function forgetProgram(): void {
    for (const file of Object.keys(require.cache)) {
        const relative = path.relative(repoRoot, file);
        if (!relative.startsWith("..") && !relative.startsWith("node_modules") && /^(index|stacks|components)/.test(relative)) delete require.cache[file];
    }
}

/** Validates the stack's config; on success runs the program under mocks and returns the plan. */
export async function planStack(options: PlanOptions): Promise<{ ok: false; errors: string[] } | { ok: true; plan: Plan }> {
    const raw = loadRawConfig(options.stack, options.overrides);
    const checked: ConfigResult = parseConfig(raw, options.stack, repoRoot);
    if (!checked.ok) return checked;

    const inputsByKey = new Map<string, Record<string, unknown>>();
    const invokes: string[] = [];
    const invokeResults = { ...defaultInvokes, ...options.invokeResults };
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                const key = `${args.type}::${args.name}`;
                // The engine derives URNs from type and name (parents contribute only their type): a repeat is a duplicate URN.
                if (inputsByKey.has(key)) throw new Error(`duplicate resource ${key}: the engine would refuse the duplicate URN`);
                inputsByKey.set(key, args.inputs);
                const state: Record<string, unknown> = { ...args.inputs };
                // A step's stdout exists only once it ran: unknown in preview, as with the real engine.
                if (args.type === "command:local:Command" && !options.preview) state.stdout = `[output of ${args.name}]`;
                if (args.type === "pulumi:pulumi:StackReference") state.outputs = options.previousOutputs ?? {};
                return { id: `${args.name}-id`, state };
            },
            call(args) {
                invokes.push(args.token);
                return invokeResults[args.token] ?? {};
            },
        },
        "fleet-bootstrap",
        options.stack,
        options.preview ?? false,
        "organization",
    );
    pulumi.runtime.setAllConfig(raw.values, [...raw.secretKeys]);

    const recorded: Array<{ resource: pulumi.Resource; type: string; name: string; opts: pulumi.ResourceOptions; props: Record<string, unknown> }> = [];
    forgetProgram();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Environment, environmentTransformations } = require("../stacks/environment") as typeof import("../stacks/environment");
    environmentTransformations.length = 0;
    environmentTransformations.push((args) => {
        recorded.push({ resource: args.resource, type: args.type, name: args.name, opts: args.opts, props: args.props });
        return undefined;
    });
    // A failure inside the program (a validation in an apply, a rejected registration) surfaces as an
    // unhandled rejection, as it does under the real engine: collect it and fail the plan with it.
    const failures: unknown[] = [];
    let failed: () => void = () => undefined;
    const failure = new Promise<void>((resolve) => (failed = resolve));
    const onFailure = (reason: unknown) => {
        failures.push(reason);
        failed();
    };
    process.on("unhandledRejection", onFailure);
    // Without an engine, pulumi.log.warn writes to console.warn: collect what the program warns about.
    const warnings: string[] = [];
    const consoleWarn = console.warn;
    console.warn = (...args: unknown[]) => {
        warnings.push(args.map(String).join(" ").replace(/^warning: \[runtime\] /, ""));
    };
    let program: Record<string, unknown>;
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        program = require("../index") as Record<string, unknown>;
        // Registration is asynchronous: wait until every recorded resource has its URN and no new one appears.
        let settled = -1;
        while (settled !== recorded.length && failures.length === 0) {
            settled = recorded.length;
            // A failed registration never gets its URN: stop waiting at the first failure.
            await Promise.race([Promise.all(recorded.map((r) => urnOf(r.resource))), failure]);
            await new Promise((resolve) => setTimeout(resolve, 10));
        }
    } finally {
        process.off("unhandledRejection", onFailure);
        console.warn = consoleWarn;
    }
    if (failures.length > 0) {
        const first = failures[0];
        throw new Error(`the program failed: ${first instanceof Error ? first.message : String(first)}`, { cause: first });
    }

    const resources: PlannedResource[] = [];
    for (const r of recorded) {
        const explicit = await resolveDependsOn(r.opts.dependsOn);
        const data = await dataDependencies(r.props);
        const urn = await urnOf(r.resource);
        const dependsOn = [...new Set([...explicit, ...data])].filter((d) => d !== urn);
        resources.push({
            urn,
            type: r.type,
            name: r.name,
            parent: r.opts.parent ? await urnOf(r.opts.parent) : undefined,
            dependsOn,
            options: {
                protect: Boolean(r.opts.protect),
                retainOnDelete: Boolean(r.opts.retainOnDelete),
                deletedWith: r.opts.deletedWith ? await urnOf(r.opts.deletedWith) : undefined,
                ...(r.opts.ignoreChanges?.length ? { ignoreChanges: [...r.opts.ignoreChanges] } : {}),
            },
            inputs: options.revealSecrets
                ? (unwrapSecrets(inputsByKey.get(`${r.type}::${r.name}`) ?? {}) as Record<string, unknown>)
                : { ...(redact(inputsByKey.get(`${r.type}::${r.name}`) ?? {}) as Record<string, unknown>), ...(await resolveInputs(r.props)) },
        });
    }
    const outputs: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(program)) outputs[key] = await exportedValue(value);
    // The environment's transformations apply to itself too: it is among the recorded resources.
    const environment = recorded.map((r) => r.resource).find((r): r is InstanceType<typeof Environment> => r instanceof Environment);
    if (!environment) throw new Error("the program registered no fleet:index:Environment");

    const manifests = collectManifests(checked.spec, resources);
    return { ok: true, plan: { stack: options.stack, spec: checked.spec, resources, outputs, manifests, invokes, warnings, fleetRepository: environment.fleetRepository } };
}

function urnOf(resource: pulumi.Resource): Promise<string> {
    return new Promise((resolve) => resource.urn.apply((u) => resolve(u)));
}

async function resolveDependsOn(dependsOn: pulumi.ResourceOptions["dependsOn"]): Promise<string[]> {
    if (!dependsOn) return [];
    const list = await new Promise<pulumi.Resource[]>((resolve) =>
        pulumi.output(dependsOn as pulumi.Input<pulumi.Input<pulumi.Resource>[]>).apply((d) => resolve(([] as pulumi.Resource[]).concat(d as pulumi.Resource[]))),
    );
    return Promise.all(list.map(urnOf));
}

/** Resources whose outputs flow into these inputs (Pulumi's data dependencies). */
async function dataDependencies(props: Record<string, unknown>): Promise<string[]> {
    const found = new Set<pulumi.Resource>();
    const visit = async (value: unknown): Promise<void> => {
        if (pulumi.Output.isInstance(value)) {
            const all = (value as unknown as { allResources?: () => Promise<Set<pulumi.Resource>> }).allResources;
            for (const r of all ? await all.call(value) : []) found.add(r);
            return;
        }
        if (Array.isArray(value)) await Promise.all(value.map(visit));
        else if (value && typeof value === "object" && !(value instanceof pulumi.Resource)) await Promise.all(Object.values(value).map(visit));
    };
    await visit(props);
    return Promise.all([...found].map(urnOf));
}

/**
 * The program's inputs with each secret value replaced where it sits: the mock monitor marks a whole
 * property secret when any value inside is, which would hide, e.g., the keys of a Secret's stringData.
 */
async function resolveInputs(props: Record<string, unknown>): Promise<Record<string, unknown>> {
    const resolved: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(props)) {
        if (value !== undefined && !(value instanceof pulumi.Resource)) resolved[key] = await exportedValue(value);
    }
    return JSON.parse(JSON.stringify(resolved));
}

async function exportedValue(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        const output = value as unknown as { isSecret: Promise<boolean>; isKnown: Promise<boolean> };
        if (!(await output.isKnown)) return "[unknown]";
        if (await output.isSecret) {
            // A secret map (a Secret's stringData, a step's environment) keeps its keys visible: names are not secrets.
            const inner = await new Promise<unknown>((resolve) => value.apply((v) => resolve(v)));
            return inner && typeof inner === "object" && !Array.isArray(inner) ? Object.fromEntries(Object.keys(inner).map((k) => [k, SECRET])) : SECRET;
        }
        return new Promise((resolve) => value.apply((v) => resolve(redact(v))));
    }
    if (value instanceof Promise) return exportedValue(await value);
    if (Array.isArray(value)) return Promise.all(value.map(exportedValue));
    if (value && typeof value === "object" && !(value instanceof pulumi.Resource)) {
        return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await exportedValue(v)] as const)));
    }
    return redact(value);
}

function parseDocuments(text: string): K8sObject[] {
    return yaml.loadAll(text).filter(isK8sObject);
}

/** Every Kubernetes object the plan would apply, by target cluster. */
function collectManifests(spec: EnvironmentSpec, resources: PlannedResource[]): Map<string, K8sObject[]> {
    const manifests = new Map<string, K8sObject[]>();
    const add = (target: string, object: K8sObject) => manifests.set(target, [...(manifests.get(target) ?? []), object]);
    const byUrn = new Map(resources.map((r) => [r.urn, r]));

    for (const r of resources) {
        if (r.type === "command:local:Command" && typeof r.inputs.stdin === "string") {
            parseDocuments(r.inputs.stdin).forEach((o) => add("temporary", o));
        }
        const isObject = r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh") && typeof r.inputs.kind === "string";
        if (!isObject) continue;
        const object = structuredClone(r.inputs) as unknown as K8sObject;
        // A patch is applied onto the object it names: show that object as it ends up.
        if (r.type.endsWith("Patch")) {
            const target = (manifests.get("permanent") ?? []).find((o) => o.kind === object.kind && o.metadata.name === object.metadata.name && o.metadata.namespace === object.metadata.namespace);
            if (!target) throw new Error(`${r.name}: patches ${object.kind} ${object.metadata.name}, which the program does not create`);
            target.spec = { ...(target.spec as object), ...(object.spec as object) };
            continue;
        }
        // A redacted base64 value would not be base64: show it where plain text goes (stringData).
        if (object.kind === "Secret" && object.data && typeof object.data === "object") {
            const data = object.data as Record<string, string>;
            for (const [key, value] of Object.entries(data)) {
                if (value !== SECRET) continue;
                object.stringData = { ...(object.stringData as object), [key]: SECRET };
                delete data[key];
            }
            if (Object.keys(data).length === 0) delete object.data;
        }
        add("permanent", object);
        // What a bootstrap module delivers to each cluster it selects: the content of its resource sets.
        const module = moduleOf(r, byUrn);
        if (module && (object.kind === "ConfigMap" || object.kind === "Secret")) {
            const selected = spec.bootstrapModules.find((m) => `module-${m.name}` === module);
            const content = { ...(object.data as object), ...(object.stringData as object) } as Record<string, string>;
            // Parsed once, not once per cluster: every selected cluster's list holds the same (read-only) objects.
            const delivered = Object.entries(content).flatMap(([key, value]): K8sObject[] =>
                // A resource set Secret's content is secret: the plan shows that it is delivered, not what.
                value === SECRET
                    ? [{ apiVersion: "v1", kind: "Secret", metadata: { name: `${object.metadata.name}-${key}`, annotations: { "fleet-bootstrap.io/content": SECRET } } }]
                    : parseDocuments(value),
            );
            for (const cluster of selected ? selectedClusters(spec, selected) : []) delivered.forEach((o) => add(cluster, o));
        }
    }
    return manifests;
}

/** A resource's parent, its parent's parent, and so on up to the stack's root. */
export function ancestors(resource: PlannedResource, byUrn: Map<string, PlannedResource>): PlannedResource[] {
    const chain: PlannedResource[] = [];
    for (let parent = resource.parent ? byUrn.get(resource.parent) : undefined; parent; parent = parent.parent ? byUrn.get(parent.parent) : undefined) {
        chain.push(parent);
    }
    return chain;
}

function moduleOf(resource: PlannedResource, byUrn: Map<string, PlannedResource>): string | undefined {
    return ancestors(resource, byUrn).find((owner) => owner.type === "fleet:index:BootstrapModule")?.name;
}
