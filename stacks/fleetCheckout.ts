// The committed render of an environment, read from a checkout of the fleet repository (this repository
// unless `fleetCheckout` names another): what Flux syncs after the hand-off, compared with what the
// configuration renders at every preview and up. Only files `npm run render` generated are read.
import * as fs from "node:fs";
import * as path from "node:path";

import { environmentRoot, isGeneratedFile, renderDriftWarnings, renderFleetRepository } from "../render/fleetRepo";
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

/**
 * The files under `<checkout>/<clustersPath>/<env>/`, keyed like `renderFleetRepository`'s: the generated
 * ones, or with `handWritten` every file (what the local fleet source serves).
 */
export function readCommittedRender(checkout: string, env: Pick<EnvironmentSpec, "environment" | "flux">, handWritten = false): Map<string, string> {
    const files = new Map<string, string>();
    for (const file of listFiles(path.join(checkout, environmentRoot(env))).sort()) {
        const content = fs.readFileSync(file, "utf8");
        if (handWritten || isGeneratedFile(content)) files.set(path.relative(checkout, file).split(path.sep).join("/"), content);
    }
    return files;
}

/** The command that brings the committed render in line with the configuration of `stack`. */
export function renderCommand(stack: string, env: Pick<EnvironmentSpec, "flux">): string {
    return env.flux.checkout ? `npm run render -- ${stack} --out ${env.flux.checkout}` : `npm run render -- ${stack}`;
}

/** Warnings about the committed render of the stack's environment against its configuration (none when in line). */
export function committedRenderWarnings(stack: string, env: EnvironmentSpec): string[] {
    const committed = readCommittedRender(checkoutDirectory(env), env);
    const where = env.flux.checkout ? `the checkout ${env.flux.checkout}` : "this repository";
    const fix = env.flux.checkout || committed.size > 0
        ? renderCommand(stack, env)
        : `${renderCommand(stack, env)}\` (the render is committed here) or \`npm run render -- ${stack} --out <checkout of ${env.flux.repositoryUrl}>\` with fleet-bootstrap:fleetCheckout set to that checkout`;
    return renderDriftWarnings(env, renderFleetRepository(env), committed, where, fix);
}
