// Step scripts: what each @pulumi/command step runs. Each script is steps/lib.sh (shared
// functions) followed by steps/<step>.sh, run with STEP_INTERPRETER. The header comment of each
// steps/<step>.sh file is the authoritative environment contract; StepEnvironment below mirrors it
// so the components can type the `environment` they pass.
import * as fs from "fs";
import * as path from "path";

export type StepName =
    | "preflight"
    | "temporary-cluster-create"
    | "temporary-cluster-delete"
    | "capi-providers"
    | "management-cluster"
    | "pivot";

export const STEP_NAMES: readonly StepName[] = [
    "preflight",
    "temporary-cluster-create",
    "temporary-cluster-delete",
    "capi-providers",
    "management-cluster",
    "pivot",
];

/** The interpreter every step script is written for (`$0` is not a path; nothing is sourced). */
export const STEP_INTERPRETER: readonly string[] = ["/bin/bash", "-c"];

/** Directory holding lib.sh and the <step>.sh files. */
export const STEPS_DIR = path.join(__dirname, "..", "steps");

/** Variables every step understands (FLEET_ENV and FLEET_STEP are required). */
export interface CommonStepEnvironment {
    FLEET_ENV: string;
    FLEET_STEP: string;
    /** State root; the step uses <root>/<FLEET_ENV>. Default $HOME/.fleet-bootstrap. Leave unset in programs. */
    FLEET_STATE_DIR?: string;
    /** Poll interval of waits in seconds (default 10). */
    FLEET_POLL_SECONDS?: string;
    /** Bound of the step's long wait in seconds (default per step). */
    FLEET_WAIT_TIMEOUT_SECONDS?: string;
    /** Attempts for one transient command error (default 5). */
    FLEET_RETRIES?: string;
    /** Command failure messages give to resume (default `pulumi up -s <env>`). */
    FLEET_RESUME_COMMAND?: string;
}

export interface StepEnvironment {
    "preflight": CommonStepEnvironment & {
        /** "name:minVersion ..." e.g. "kind:0.29.0 clusterctl:1.14.0 kubectl:1.31.0 docker:24.0.0" */
        FLEET_REQUIRED_TOOLS: string;
        /** e.g. "age:1.1.0" */
        FLEET_OPTIONAL_TOOLS?: string;
    };
    "temporary-cluster-create": CommonStepEnvironment & {
        KIND_CLUSTER_NAME: string;
        KIND_NODE_IMAGE: string;
        /** kind Cluster config YAML (kind.x-k8s.io/v1alpha4). */
        KIND_CONFIG: string;
    };
    "temporary-cluster-delete": CommonStepEnvironment & {
        KIND_CLUSTER_NAME: string;
    };
    "capi-providers": CommonStepEnvironment & {
        FLEET_TARGET: "temporary" | "permanent";
        /** Required when FLEET_TARGET is temporary. */
        KIND_CLUSTER_NAME?: string;
        /** Kubeconfig contents; required when FLEET_TARGET is permanent (secret). */
        FLEET_TARGET_KUBECONFIG?: string;
        CAPI_CORE: string;
        CAPI_BOOTSTRAP?: string;
        CAPI_CONTROL_PLANE?: string;
        CAPI_INFRASTRUCTURE?: string;
        CAPI_ADDON?: string;
        CAPA_CONTROLLERS_ON_CONTROL_PLANE?: "true" | "false";
        /** clusterctl variables (AWS_B64ENCODED_CREDENTIALS, GITHUB_TOKEN, EXP_MACHINE_POOL, ...). */
        [clusterctlVariable: string]: string | undefined;
    };
    "management-cluster": CommonStepEnvironment & {
        KIND_CLUSTER_NAME: string;
        CLUSTER_NAME: string;
        CLUSTER_NAMESPACE: string;
        FLEET_PROVIDER: "docker" | "aws";
    };
    "pivot": CommonStepEnvironment & {
        KIND_CLUSTER_NAME: string;
        /** Kubeconfig contents of the permanent cluster (secret). */
        FLEET_TARGET_KUBECONFIG: string;
        CLUSTER_NAME: string;
        CLUSTER_NAMESPACE: string;
        FLEET_MOVE_ATTEMPTS?: string;
        FLEET_ROLLOUT_WATCH_SECONDS?: string;
        /** age recipient (age1...) for the move backup. */
        FLEET_AGE_RECIPIENT?: string;
        /** API stability probes per cluster (default 10). */
        FLEET_API_PROBES?: string;
    };
}

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
