// Step scripts: what each @pulumi/command step runs. Each script is steps/lib.sh (shared
// functions) followed by steps/<step>.sh, run with STEP_INTERPRETER. The header comment of each
// steps/<step>.sh file is the environment contract.
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
