// How every component runs a step script: one local Command, bash, the script text in state (so destroy
// runs the delete step recorded at the last up), progress on stderr, output on stdout.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { STEP_INTERPRETER, StepName, stepScript } from "../render/steps";

export interface StepCommandArgs {
    environment: string;
    step: StepName;
    /**
     * Step inputs, passed as environment variables. A value may be a secret: it stays a secret in state
     * (only that value: the others remain readable in previews and plans) and never reaches a command line.
     */
    variables: Record<string, pulumi.Input<string>>;
    /** Runs on `pulumi destroy`. */
    deleteStep?: StepName;
    stdin?: pulumi.Input<string>;
    /** The step prints a credential on stdout: never log it and keep it a secret output. */
    secretOutput?: boolean;
    /** Run the step again (as a replacement) when any of these change, e.g. the cluster it works on was recreated. */
    rerunWhen?: pulumi.Input<unknown>[];
}

export function stepCommand(name: string, args: StepCommandArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    const common = { FLEET_ENV: args.environment, FLEET_STEP: args.step };
    return new command.local.Command(
        name,
        {
            interpreter: [...STEP_INTERPRETER],
            create: stepScript(args.step),
            delete: args.deleteStep ? stepScript(args.deleteStep) : undefined,
            environment: { ...common, ...args.variables },
            stdin: args.stdin,
            logging: args.secretOutput ? "stderr" : "stdoutAndStderr",
            triggers: args.rerunWhen,
        },
        { ...opts, additionalSecretOutputs: args.secretOutput ? ["stdout"] : [] },
    );
}

/**
 * Options for a component's children: parent, and the component's `retainOnDelete` and `deletedWith`,
 * which the SDK does not pass on by itself (only `protect` and providers are inherited).
 */
export function childOf(parent: pulumi.ComponentResource, opts: pulumi.ComponentResourceOptions | undefined): pulumi.CustomResourceOptions {
    return { parent, retainOnDelete: opts?.retainOnDelete, deletedWith: opts?.deletedWith };
}

/** Validation that runs before a component creates any child, naming the argument and what is expected. */
export function requireArg(component: pulumi.Resource, condition: boolean, message: string): void {
    if (!condition) throw new pulumi.ResourceError(message, component);
}

export const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
