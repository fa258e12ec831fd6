// Running the real step scripts in the real world, and reading what they left: the helpers of the
// *.real.ts scenarios.
import * as fs from "node:fs";
import * as path from "node:path";
import { StepName } from "../../render/steps";
import { StepProcessOptions, StepProcessResult, spawnStep } from "../support/stepProcess";
import { KubeApiServer } from "./kubeApiServer";
import { KubeApiError, KubeClient, KubeObject, Resource } from "./kubeClient";
import { RealWorld } from "./world";

export type StepRun = StepProcessResult;

/** Runs steps/<step>.sh (after lib.sh, as the program does) with the world's PATH and tools. */
export function runStep(world: RealWorld, stateDir: string, step: StepName, env: Record<string, string>, opts: StepProcessOptions = {}): Promise<StepRun> {
    return spawnStep(step, {
        ...world.env,
        FLEET_ENV: "local",
        FLEET_STEP: step,
        FLEET_STATE_DIR: stateDir,
        FLEET_POLL_SECONDS: "1",
        FLEET_API_PROBES: "2",
        FLEET_WAIT_TIMEOUT_SECONDS: "120",
        FLEET_ROLLOUT_WATCH_SECONDS: "30",
        ...env,
    }, {
        ...opts,
        onStderr: (chunk) => {
            if (process.env.FLEET_REAL_VERBOSE === "1") process.stderr.write(chunk);
            opts.onStderr?.(chunk);
        },
    });
}

export function describeRun(run: StepRun): string {
    return `exit ${run.code}${run.signal ? ` (${run.signal})` : ""} after ${(run.ms / 1000).toFixed(1)} s\n--- stderr ---\n${run.stderr}\n--- stdout ---\n${run.stdout}`;
}

/** A fresh FLEET_STATE_DIR. */
export function stateDir(world: RealWorld, name: string): string {
    const dir = path.join(path.dirname(world.env.HOME), "state", name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
}

// ------------------------------------------------------------------ what is where

export interface GraphObject {
    /** Kind/name */
    id: string;
    /** Kind/name of each owner, resolved through its uid on the same server ("?" when it resolves to nothing). */
    owners: string[];
    paused: boolean;
    resource: Resource;
    namespace: string;
    name: string;
}

const CRDS: Resource = { group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", namespaced: false };
const SECRETS: Resource = { group: "", version: "v1", plural: "secrets", namespaced: true };

/**
 * Everything of `namespace` that clusterctl move moves: the objects of every CRD labelled
 * clusterctl.cluster.x-k8s.io, and the Secrets. Owner references are resolved by uid, so a reference
 * that survived a move with a stale uid shows as "?".
 */
export async function graph(server: KubeApiServer, namespace: string): Promise<GraphObject[]> {
    const client = new KubeClient(server);
    try {
        const types: [Resource, string][] = [[SECRETS, "Secret"]];
        for (const crd of await client.list(CRDS, undefined, "clusterctl.cluster.x-k8s.io")) {
            if (crd.spec.scope !== "Namespaced") continue;
            const storage = (crd.spec.versions as { name: string; storage: boolean }[]).find((v) => v.storage);
            types.push([{ group: crd.spec.group, version: storage?.name ?? "v1", plural: crd.spec.names.plural, namespaced: true }, crd.spec.names.kind]);
        }
        const objects: (KubeObject & { resource: Resource })[] = [];
        for (const [resource, kind] of types) {
            for (const o of await client.list(resource, namespace)) objects.push({ ...o, kind, resource });
        }
        const byUid = new Map(objects.map((o) => [o.metadata.uid, `${o.kind}/${o.metadata.name}`]));
        return objects
            .map((o) => ({
                id: `${o.kind}/${o.metadata.name}`,
                owners: (o.metadata.ownerReferences ?? []).map((r) => byUid.get(r.uid) ?? `?${r.kind}/${r.name}`).sort(),
                paused: o.spec?.paused === true || o.metadata.annotations?.["cluster.x-k8s.io/paused"] !== undefined,
                resource: o.resource,
                namespace,
                name: o.metadata.name,
            }))
            .sort((a, b) => a.id.localeCompare(b.id));
    } finally {
        client.close();
    }
}

/** Removes every object of `graph` from the server, finalizers first (what is gone already is skipped). */
export async function removeAll(server: KubeApiServer, objects: GraphObject[]): Promise<void> {
    const client = new KubeClient(server);
    try {
        for (const o of objects) {
            try {
                await client.mergePatch(o.resource, o.namespace, o.name, { metadata: { finalizers: null } });
                await client.delete(o.resource, o.namespace, o.name);
            } catch (e) {
                if (!(e instanceof KubeApiError && e.status === 404)) throw e;
            }
        }
    } finally {
        client.close();
    }
}
