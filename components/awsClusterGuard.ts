// "No second cluster, ever": before the management cluster is created, look for a CAPA cluster of the
// same name in the account and region that this environment does not own, and stop if there is one.
//
// CAPA tags every VPC it creates with `sigs.k8s.io/cluster-api-provider-aws/cluster/<cluster>: owned`,
// and copies the AWSCluster's `additionalTags` onto it; ours carry `fleet-bootstrap.io/environment:
// <environment>` (render/capi.ts). A VPC with CAPA's tag for our cluster name but without our
// environment tag belongs to another cluster of that name. Creating ours next to it would give two
// clusters whose AWS resources are named and tagged alike. Our own VPC, from an earlier run of this
// stack, has both tags and passes.
//
// The lookup runs on every preview and update: it reads VPC ids only (ec2:DescribeVpcs, nothing secret),
// so a pull-request preview reports the conflict before anyone merges. The preview's AWS credentials
// therefore need ec2:DescribeVpcs in the environment's region.
//
// Limits: only VPCs that CAPA created (the default; a cluster in a bring-your-own VPC leaves no VPC
// tag), and only this region (the same cluster name in another region is another cluster, harmless).
//
// How the failure stops things: the check is a Promise that rejects with one `ResourceError`. Resources
// that wait for it (`dependsOn`) fail to register with that very error object, which the Pulumi runtime
// reports once, verbatim, and the program ends. It is deliberately not fed through resource inputs: the
// SDK prefixes an error with `error serializing property "<name>"` each time it passes a serializer.
import * as command from "@pulumi/command";
import { getVpcs } from "@pulumi/aws/ec2";
import * as pulumi from "@pulumi/pulumi";

import { awsTagKeys } from "../render/capi";
import { userError } from "./stepCommand";

/** The tag CAPA puts on the AWS resources it creates for a cluster (value `owned`). */
export function capaClusterTagKey(clusterName: string): string {
    return `sigs.k8s.io/cluster-api-provider-aws/cluster/${clusterName}`;
}

export interface AwsClusterGuardArgs {
    /** Environment name: the `fleet-bootstrap.io/environment` tag value our AWSCluster puts on its VPC. */
    environment: string;
    /** Name of the management cluster (the Cluster API `Cluster`). */
    clusterName: string;
    /** AWS region of the environment (spec `aws.region`); the lookup runs there whatever the provider's default. */
    region: string;
    /** AWS provider for the lookups; default: the ambient `aws` provider. */
    provider?: pulumi.ProviderResource;
}

/** The VPCs tagged for the cluster name that are not ours: `tagged` minus `ours`. */
export function foreignVpcIds(tagged: readonly string[], ours: readonly string[]): string[] {
    return tagged.filter((id) => !ours.includes(id)).sort();
}

/**
 * The check itself, usable before anything is registered (e.g. `await` it at the top of the program to
 * create nothing at all on a conflict). Resolves to the VPC ids of our own cluster (empty before its
 * first creation); rejects with a `ResourceError` naming the foreign VPCs, the cluster, the region and
 * what to do.
 */
export async function assertNoForeignCluster(
    args: AwsClusterGuardArgs,
    opts: { parent?: pulumi.Resource } = {},
): Promise<string[]> {
    const invokeOpts = { parent: opts.parent, provider: args.provider };
    const capaTag = { name: `tag:${capaClusterTagKey(args.clusterName)}`, values: ["owned"] };
    const environmentTag = { name: `tag:${awsTagKeys.environment}`, values: [args.environment] };
    const [tagged, ours] = await Promise.all([
        getVpcs({ region: args.region, filters: [capaTag] }, invokeOpts),
        getVpcs({ region: args.region, filters: [capaTag, environmentTag] }, invokeOpts),
    ]);
    const own = [...(ours.ids ?? [])].sort();
    const foreign = foreignVpcIds(tagged.ids ?? [], own);
    if (foreign.length > 0) {
        throw userError(foreignClusterMessage(args, foreign), opts.parent);
    }
    return own;
}

/**
 * Fails when the account holds a CAPA cluster of `clusterName` in `region` that this environment
 * does not own. Make the management cluster `dependsOn: [guard]`: the guard's one child, a no-op step,
 * registers only once the check passed, and dependents of a component wait for its custom children.
 */
export class AwsClusterGuard extends pulumi.ComponentResource {
    /** Resolves to `true` when no foreign cluster exists; rejects with the guard's `ResourceError` otherwise. */
    public readonly ok: pulumi.Output<true>;
    /** VPCs of this environment's cluster (empty before its first creation). */
    public readonly ownVpcIds: pulumi.Output<string[]>;

    constructor(name: string, args: AwsClusterGuardArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:index:AwsClusterGuard", name, {}, opts);
        for (const key of ["environment", "clusterName", "region"] as const) {
            if (!args[key]) {
                throw new pulumi.InputPropertyError({ propertyPath: key, reason: `AwsClusterGuard: ${key} is required` });
            }
        }

        const check = assertNoForeignCluster(args, { parent: this });
        this.ok = pulumi.output(check.then(() => true as const));
        this.ownVpcIds = pulumi.output(check);

        // Runs `true` once; exists so that `dependsOn: [guard]` has something to wait for.
        const afterCheck: Promise<pulumi.Resource[]> = check.then(() => []);
        new command.local.Command(`${name}-passed`, { create: "true", logging: "none" }, { parent: this, dependsOn: afterCheck });

        // No outputs registered: they would carry the check's rejection through the serializer.
        this.registerOutputs({});
    }
}

function foreignClusterMessage(args: AwsClusterGuardArgs, vpcIds: string[]): string {
    return (
        `A Cluster API cluster named "${args.clusterName}" already exists in AWS region ${args.region} ` +
        `and environment "${args.environment}" does not own it: ` +
        `VPC ${vpcIds.join(", ")} carries ${capaClusterTagKey(args.clusterName)}=owned ` +
        `but not ${awsTagKeys.environment}=${args.environment}. ` +
        `Creating the management cluster now would give two clusters AWS resources with the same names and tags, ` +
        `so it was not created. Either choose another name (\`pulumi config set fleet-bootstrap:managementClusterName <name>\`) ` +
        `or region, or delete that cluster from the management cluster that owns it ` +
        `(\`kubectl delete cluster ${args.clusterName} -n <namespace>\`, which removes its VPC).`
    );
}
