import * as pulumi from "@pulumi/pulumi";
import { childOf, requireArg, stepCommand } from "./stepCommand";

export interface PreflightArgs {
    environment: string;
    /** Tools that must be on PATH, with the lowest workable version (`name` → `x.y.z`). */
    requiredTools: Record<string, string>;
    /** Tools used when present (e.g. `age` to encrypt the move backup). */
    optionalTools?: Record<string, string>;
}

/** First step of `pulumi up`: every CLI present at a workable version and Docker reachable, all reported at once. */
export class Preflight extends pulumi.ComponentResource {
    public readonly toolVersions: pulumi.Output<string>;

    constructor(name: string, args: PreflightArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:index:Preflight", name, {}, opts);
        const asList = (tools: Record<string, string>) => Object.entries(tools).map(([tool, min]) => `${tool}:${min}`).join(" ");
        for (const [tool, min] of Object.entries({ ...args.requiredTools, ...args.optionalTools })) {
            requireArg(this, /^\d+\.\d+\.\d+$/.test(min), `preflight: tool ${tool}: got minimum version ${JSON.stringify(min)}; expected MAJOR.MINOR.PATCH`);
        }
        const check = stepCommand(
            `${name}-check`,
            {
                environment: args.environment,
                step: "preflight",
                variables: { FLEET_REQUIRED_TOOLS: asList(args.requiredTools), FLEET_OPTIONAL_TOOLS: asList(args.optionalTools ?? {}) },
            },
            childOf(this, opts),
        );
        this.toolVersions = check.stdout;
        this.registerOutputs({ toolVersions: this.toolVersions });
    }
}
