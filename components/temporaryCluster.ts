import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { adoptVariables, childOf, dnsLabel, requireArg, stepCommand } from "./stepCommand";

export interface TemporaryClusterArgs {
    environment: string;
    /** kind cluster name (at most 49 characters: kind names the node container `<name>-control-plane`). */
    name: string;
    /** kind node image pinned by digest. */
    nodeImage: string;
    /** kind `Cluster` config (YAML), e.g. with the docker.sock mount CAPD needs. */
    kindConfig: string;
    /** The stack adopts this existing management cluster's kubeconfig file instead of bootstrapping: no kind cluster is created. */
    adoptExistingManagementCluster?: string;
}

/**
 * The temporary kind cluster the bootstrap starts from. Creating it adopts an existing kind cluster of the
 * same name; deleting it refuses while it still holds Cluster API Clusters (the only copy before a pivot).
 */
export class TemporaryCluster extends pulumi.ComponentResource {
    public readonly clusterName: string;
    /** Admin kubeconfig of the kind cluster (secret). Steps fetch a fresh one from kind; this is for operators. */
    public readonly kubeconfig: pulumi.Output<string>;
    /** The resource whose deletion deletes the cluster: everything living inside it is `deletedWith` this. */
    public readonly cluster: command.local.Command;

    constructor(name: string, args: TemporaryClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:index:TemporaryCluster", name, {}, opts);
        requireArg(this, dnsLabel.test(args.name) && args.name.length <= 49, `TemporaryCluster ${name}: name ${JSON.stringify(args.name)}: expected a DNS-1123 label of at most 49 characters`);
        requireArg(this, /@sha256:[a-f0-9]{64}$/.test(args.nodeImage), `TemporaryCluster ${name}: nodeImage ${JSON.stringify(args.nodeImage)}: expected an image pinned by digest (…@sha256:<64 hex>)`);

        this.clusterName = args.name;
        this.cluster = stepCommand(
            `${name}-kind`,
            {
                environment: args.environment,
                step: "temporary-cluster-create",
                deleteStep: "temporary-cluster-delete",
                variables: { KIND_CLUSTER_NAME: args.name, KIND_NODE_IMAGE: args.nodeImage, KIND_CONFIG: args.kindConfig, ...adoptVariables(args.adoptExistingManagementCluster) },
                secretOutput: true,
            },
            // A replacement must delete the old cluster first: kind names are singletons on a machine.
            { ...childOf(this, opts), deleteBeforeReplace: true },
        );
        this.kubeconfig = pulumi.secret(this.cluster.stdout);
        this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
    }
}
