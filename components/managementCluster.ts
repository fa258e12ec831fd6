import * as pulumi from "@pulumi/pulumi";
import { checkManagementCredential, renewalCommands } from "../render/kubeconfig";
import { adoptVariables, childOf, dnsLabel, requireArg, stepCommand, userError } from "./stepCommand";

export interface ManagementClusterArgs {
    environment: string;
    /** The temporary cluster the objects are applied to, and its resource (named in recovery commands). */
    kindClusterName: string;
    temporaryClusterUrn: pulumi.Input<string>;
    clusterName: string;
    namespace: string;
    provider: "docker" | "aws";
    /** The cluster's Cluster API objects and its CNI add-on, as multi-document YAML (no secrets). */
    manifests: string;
    /** How long to wait for the cluster to be ready for the move (default one hour, as EKS Anywhere). */
    waitTimeoutSeconds?: number;
    /** Kubeconfig file of this environment's existing, self-managed management cluster to adopt: nothing is applied. */
    adoptExistingManagementCluster?: string;
    /**
     * AWS: VPCs of this environment's own cluster ("" when none exist), read only when the step is created,
     * i.e. while the stack has no record of the cluster. Set, the step refuses to bootstrap unless the
     * temporary cluster holds the Cluster.
     */
    unrecordedClusterVpcs?: pulumi.Input<string>;
}

/**
 * The permanent management cluster, created through Cluster API from the temporary cluster: applies its
 * objects (server-side, so re-applying is harmless), waits for what `clusterctl move` requires, and
 * outputs the kubeconfig from `<cluster>-kubeconfig`. After the pivot the cluster manages itself and
 * Git holds its definition; the step then applies nothing and reads the kubeconfig from the cluster.
 */
export class ManagementCluster extends pulumi.ComponentResource {
    public readonly clusterName: string;
    public readonly kubeconfig: pulumi.Output<string>;

    constructor(name: string, args: ManagementClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:index:ManagementCluster", name, {}, opts);
        requireArg(this, dnsLabel.test(args.clusterName), `ManagementCluster ${name}: clusterName ${JSON.stringify(args.clusterName)}: expected a DNS-1123 label`);
        requireArg(this, dnsLabel.test(args.namespace), `ManagementCluster ${name}: namespace ${JSON.stringify(args.namespace)}: expected a DNS-1123 label`);
        requireArg(this, args.manifests.includes("kind: Cluster\n"), `ManagementCluster ${name}: manifests: expected a Cluster API Cluster among the objects`);

        this.clusterName = args.clusterName;
        const renewal = renewalCommands(args.environment, args.clusterName, args.provider);
        const apply = stepCommand(
            `${name}-apply-and-wait`,
            {
                environment: args.environment,
                step: "management-cluster",
                stdin: args.manifests,
                variables: {
                    KIND_CLUSTER_NAME: args.kindClusterName,
                    FLEET_TEMPORARY_CLUSTER_URN: args.temporaryClusterUrn,
                    CLUSTER_NAME: args.clusterName,
                    CLUSTER_NAMESPACE: args.namespace,
                    FLEET_PROVIDER: args.provider,
                    FLEET_WAIT_TIMEOUT_SECONDS: String(args.waitTimeoutSeconds ?? 3600),
                    ...adoptVariables(args.adoptExistingManagementCluster),
                    FLEET_CREDENTIAL_RENEWAL: renewal,
                },
                createOnlyVariables: args.unrecordedClusterVpcs !== undefined ? { FLEET_UNRECORDED_CLUSTER_VPCS: args.unrecordedClusterVpcs } : undefined,
                secretOutput: true,
            },
            childOf(this, opts),
        );
        // The kept credential is checked at every preview and up, before anything uses it.
        this.kubeconfig = pulumi.secret(apply.stdout).apply((kubeconfig) => {
            const check = checkManagementCredential(kubeconfig, new Date(), renewal);
            if (check?.problem === "expired") throw userError(`ManagementCluster ${name}: ${check.message}`, this);
            if (check) pulumi.log.warn(check.message, this);
            return kubeconfig;
        });
        this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
    }
}
