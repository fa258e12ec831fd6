import * as pulumi from "@pulumi/pulumi";
import { childOf, dnsLabel, requireArg, stepCommand } from "./stepCommand";

export interface PivotArgs {
    environment: string;
    /** Source: the temporary kind cluster, and its resource (named in recovery commands). */
    kindClusterName: string;
    temporaryClusterUrn: pulumi.Input<string>;
    /** Target: the permanent management cluster's kubeconfig (secret). */
    targetKubeconfig: pulumi.Input<string>;
    clusterName: string;
    namespace: string;
    /** age recipient for encrypting the move backup, when the age CLI is present. */
    ageRecipient?: string;
}

/**
 * `clusterctl move` from the temporary cluster to the permanent one, guarded (stable API servers, providers
 * on the target, nothing provisioning, no GitOps racing, dry run, backup), retried on transient errors,
 * unpausing on failure, and verified afterwards. Re-running after success does nothing.
 */
export class Pivot extends pulumi.ComponentResource {
    /** Where the `clusterctl move --to-directory` backup was written (holds CA keys: keep it private). */
    public readonly backupLocation: pulumi.Output<string>;

    constructor(name: string, args: PivotArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:index:Pivot", name, {}, opts);
        requireArg(this, dnsLabel.test(args.clusterName), `Pivot ${name}: clusterName ${JSON.stringify(args.clusterName)}: expected a DNS-1123 label`);
        const move = stepCommand(
            `${name}-clusterctl-move`,
            {
                environment: args.environment,
                step: "pivot",
                variables: {
                    KIND_CLUSTER_NAME: args.kindClusterName,
                    FLEET_TEMPORARY_CLUSTER_URN: args.temporaryClusterUrn,
                    FLEET_TARGET_KUBECONFIG: args.targetKubeconfig,
                    CLUSTER_NAME: args.clusterName,
                    CLUSTER_NAMESPACE: args.namespace,
                    ...(args.ageRecipient ? { FLEET_AGE_RECIPIENT: args.ageRecipient } : {}),
                },
            },
            childOf(this, opts),
        );
        this.backupLocation = move.stdout;
        this.registerOutputs({ backupLocation: this.backupLocation });
    }
}
