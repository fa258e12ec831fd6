// Step scripts: what each @pulumi/command step runs. Each script is steps/lib.sh (shared
// functions) followed by steps/<step>.sh, run with STEP_INTERPRETER. The header comment of each
// steps/<step>.sh file is the environment contract.
//
// The Command runs one short line (STEP_COMMANDS) and the script reaches it through its environment
// (FLEET_STEP_SCRIPT, FLEET_DELETE_STEP_SCRIPT): still recorded in state, so destroy runs the delete
// script recorded at the last up, but what the engine prints on a failure is the command line plus the
// step's own output, not 50 KB of script. FLEET_STEP_INPUTS_DIGEST lets an update tell a changed script
// (a program upgrade: nothing to do) from changed inputs (run the step).
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

export type StepName =
    | "preflight"
    | "temporary-cluster-create"
    | "temporary-cluster-delete"
    | "capi-providers"
    | "management-cluster"
    | "pivot"
    | "fleet-source"
    | "fleet-source-delete";

export const STEP_NAMES: readonly StepName[] = [
    "preflight",
    "temporary-cluster-create",
    "temporary-cluster-delete",
    "capi-providers",
    "management-cluster",
    "pivot",
    "fleet-source",
    "fleet-source-delete",
];

/** The interpreter every step script is written for (`$0` is not a path; nothing is sourced). */
export const STEP_INTERPRETER: readonly string[] = ["/bin/bash", "-c"];

/** What the Command runs on create, update and delete: the script comes from the environment. */
export const STEP_COMMANDS = {
    create: 'exec /bin/bash -c "$FLEET_STEP_SCRIPT"',
    update: 'FLEET_STEP_OPERATION=update exec /bin/bash -c "$FLEET_STEP_SCRIPT"',
    delete: 'exec /bin/bash -c "$FLEET_DELETE_STEP_SCRIPT"',
} as const;

/** Environment variables that carry the step machinery rather than the step's inputs. */
export const STEP_SCRIPT_VARIABLES = ["FLEET_STEP_SCRIPT", "FLEET_DELETE_STEP_SCRIPT", "FLEET_STEP_INPUTS_DIGEST"] as const;

/**
 * sha256 of a step's inputs (its variables and stdin), without the scripts: equal digests mean an update
 * was caused by the scripts alone. Order-independent; a secret input makes the digest a secret output.
 */
export function stepInputsDigest(variables: Record<string, string>, stdin?: string): string {
    const hash = createHash("sha256");
    for (const key of Object.keys(variables).sort()) hash.update(`${key}=${JSON.stringify(variables[key])}\n`);
    hash.update(`stdin=${JSON.stringify(stdin ?? "")}\n`);
    return hash.digest("hex");
}

/** sha256 of every step script: a stack output, so the next preview can say when only the scripts changed. */
export function stepScriptsDigest(): string {
    const hash = createHash("sha256");
    for (const name of STEP_NAMES) hash.update(`${name}\n${stepScript(name)}\n`);
    return hash.digest("hex");
}

/** Directory holding lib.sh and the <step>.sh files. */
export const STEPS_DIR = path.join(__dirname, "..", "steps");

const cache = new Map<StepName, string>();

function read(file: string): string {
    return fs.readFileSync(path.join(STEPS_DIR, file), "utf8");
}

/** The complete script of a step: lib.sh + "\n" + <name>.sh, read from disk once. */
export function stepScript(name: StepName): string {
    const cached = cache.get(name);
    if (cached !== undefined) {
        return cached;
    }
    if (!STEP_NAMES.includes(name)) {
        throw new Error(`unknown step "${String(name)}"; steps are ${STEP_NAMES.join(", ")}`);
    }
    const script = read("lib.sh") + "\n" + read(`${name}.sh`);
    cache.set(name, script);
    return script;
}
