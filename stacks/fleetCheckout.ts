// The committed render of an environment, read from a checkout of the fleet repository (this repository
// unless `fleetCheckout` names another): what Flux syncs after the hand-off, compared with what the
// configuration renders at every preview and up. Only files `npm run render` generated are compared;
// the local fleet source serves every file.
import * as fs from "node:fs";
import * as path from "node:path";

import { environmentRoot, isGeneratedFile, renderDriftWarnings } from "../render/fleetRepo";
import type { EnvironmentSpec } from "./spec";
import { repoRoot } from "./stackFiles";

/** Every file under dir (recursively), as absolute paths; none when dir does not exist. */
export function listFiles(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    const out: string[] = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) out.push(...listFiles(full));
        else if (entry.isFile()) out.push(full);
    }
    return out;
}

/** The checkout holding the environment's committed render. */
export function checkoutDirectory(env: Pick<EnvironmentSpec, "flux">): string {
    return path.resolve(repoRoot, env.flux.checkout || ".");
}

/** The environment's folder in a checkout, keyed like `renderFleetRepository`'s files. */
export interface CommittedRender {
    /** The files `npm run render` generated: what the drift check compares with a fresh render. */
    generated: Map<string, string>;
    /** Every file, hand-written ones too: what the local fleet source serves. */
    all: Map<string, string>;
}

/** The files under `<checkout>/<clustersPath>/<env>/`, each read once for both views. */
export function readCommittedRender(checkout: string, env: Pick<EnvironmentSpec, "environment" | "flux">): CommittedRender {
    const committed: CommittedRender = { generated: new Map(), all: new Map() };
    for (const file of listFiles(path.join(checkout, environmentRoot(env))).sort()) {
        const content = fs.readFileSync(file, "utf8");
        const key = path.relative(checkout, file).split(path.sep).join("/");
        committed.all.set(key, content);
        if (isGeneratedFile(content)) committed.generated.set(key, content);
    }
    return committed;
}

/** The command that brings the committed render in line with the configuration of `stack`. */
export function renderCommand(stack: string, env: Pick<EnvironmentSpec, "flux">): string {
    return env.flux.checkout ? `npm run render -- ${stack} --out ${env.flux.checkout}` : `npm run render -- ${stack}`;
}

/**
 * Warnings about the committed render of the stack's environment against `fresh`, the render of `env`
 * (none when in line).
 */
export function committedRenderWarnings(stack: string, env: EnvironmentSpec, fresh: ReadonlyMap<string, string>, committed: ReadonlyMap<string, string>): string[] {
    const where = env.flux.checkout ? `the checkout ${env.flux.checkout}` : "this repository";
    const fix = env.flux.checkout || committed.size > 0
        ? renderCommand(stack, env)
        : `${renderCommand(stack, env)}\` (the render is committed here) or \`npm run render -- ${stack} --out <checkout of ${env.flux.repositoryUrl}>\` with fleet-bootstrap:fleetCheckout set to that checkout`;
    return renderDriftWarnings(env, fresh, committed, where, fix);
}
