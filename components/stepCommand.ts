// How every component runs a step script: one local Command running a one-line command, the script text
// in its environment (so it is in state and destroy runs the delete step recorded at the last up, while a
// failure prints only the step's own output), progress on stderr, output on stdout. An update caused by the
// scripts alone (a program upgrade) changes no cluster: the step sees its inputs digest unchanged.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { STEP_COMMANDS, STEP_INTERPRETER, StepName, stepInputsDigest, stepScript } from "../render/steps";

export interface StepCommandArgs {
    environment: string;
    step: StepName;
    /**
     * Step inputs, passed as environment variables. A value may be a secret: it stays a secret in state
     * (only that value: the others remain readable in previews and plans) and never reaches a command line.
     */
    variables: Record<string, pulumi.Input<string>>;
    /**
     * Inputs the step reads only when it is created (the stack has no record of it yet): outside the inputs
     * digest and ignored in diffs, so a later change of their value never updates the step.
     */
    createOnlyVariables?: Record<string, pulumi.Input<string>>;
    /** Runs on `pulumi destroy`. */
    deleteStep?: StepName;
    stdin?: pulumi.Input<string>;
    /** The step prints a credential on stdout: never log it and keep it a secret output. */
    secretOutput?: boolean;
    /** Run the step again (as a replacement) when any of these change, e.g. the cluster it works on was recreated. */
    rerunWhen?: pulumi.Input<unknown>[];
}

export function stepCommand(name: string, args: StepCommandArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    const variables = { FLEET_ENV: args.environment, FLEET_STEP: args.step, ...args.variables };
    const digest = pulumi.all([pulumi.all(variables), args.stdin]).apply(([values, stdin]) => stepInputsDigest(values, stdin));
    return new command.local.Command(
        name,
        {
            interpreter: [...STEP_INTERPRETER],
            create: STEP_COMMANDS.create,
            update: STEP_COMMANDS.update,
            delete: args.deleteStep ? STEP_COMMANDS.delete : undefined,
            environment: {
                ...variables,
                ...args.createOnlyVariables,
                FLEET_STEP_INPUTS_DIGEST: digest,
                FLEET_STEP_SCRIPT: stepScript(args.step),
                ...(args.deleteStep ? { FLEET_DELETE_STEP_SCRIPT: stepScript(args.deleteStep) } : {}),
            },
            stdin: args.stdin,
            logging: args.secretOutput ? "stderr" : "stdoutAndStderr",
            triggers: args.rerunWhen,
        },
        {
            ...opts,
            additionalSecretOutputs: args.secretOutput ? ["stdout"] : [],
            ignoreChanges: Object.keys(args.createOnlyVariables ?? {}).map((key) => `environment.${key}`),
        },
    );
}

/**
 * Options for a component's children: parent, and the component's `retainOnDelete` and `deletedWith`,
 * which the SDK does not pass on by itself (only `protect` and providers are inherited).
 */
export function childOf(parent: pulumi.ComponentResource, opts: pulumi.ComponentResourceOptions | undefined): pulumi.CustomResourceOptions {
    return { parent, retainOnDelete: opts?.retainOnDelete, deletedWith: opts?.deletedWith };
}

/** An error for the user: the runtime reports its message on `resource`, without a stack trace. */
export function userError(message: string, resource: pulumi.Resource | undefined): pulumi.ResourceError {
    return new pulumi.ResourceError(message, resource, /*hideStack*/ true);
}

/** Validation that runs before a component creates any child, naming the argument and what is expected. */
export function requireArg(component: pulumi.Resource, condition: boolean, message: string): void {
    if (!condition) throw userError(message, component);
}

/** The steps' variable for an adopted management cluster (config adoptExistingManagementCluster), when set. */
export function adoptVariables(kubeconfigFile: string | undefined): Record<string, string> {
    return kubeconfigFile ? { FLEET_ADOPT_KUBECONFIG_FILE: kubeconfigFile } : {};
}

export const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
