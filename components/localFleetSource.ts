import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { childOf, dnsLabel, requireArg, stepCommand } from "./stepCommand";

export interface LocalFleetSourceArgs {
    environment: string;
    /** Registry container, also its DNS name on the kind network (what the clusters' sync URL names). */
    containerName: string;
    /** Docker network the kind and CAPD nodes are on. */
    network: string;
    /** Registry image (OCI distribution), pinned. */
    registryImage: string;
    /** Image of the Flux CLI that pushes the artifact (no flux CLI needed on the machine), pinned. */
    pushImage: string;
    /** Absolute directory of the committed render, `<checkout>/<clustersPath>/<env>`. */
    renderDirectory: string;
    /** Path of that directory inside the artifact (the clusters' sync paths start with it). */
    artifactPath: string;
    /** `oci://<container>:<port>/<repository>:<tag>`, as the clusters pull it. */
    artifact: string;
    /** Digest of the committed render: a new one pushes again. */
    revision: string;
}

/**
 * The fleet source of an environment with no outside Git (`fleetSource: local`): a registry container on
 * the kind network serving the committed render as an OCI artifact, which Flux on the management and the
 * workload clusters syncs (an OCIRepository). Created and pushed by the `fleet-source` step (again whenever
 * the committed render changes), removed by `fleet-source-delete` on destroy.
 */
export class LocalFleetSource extends pulumi.ComponentResource {
    public readonly step: command.local.Command;

    constructor(name: string, args: LocalFleetSourceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:index:LocalFleetSource", name, {}, opts);
        requireArg(this, dnsLabel.test(args.containerName), `LocalFleetSource ${name}: containerName ${JSON.stringify(args.containerName)}: expected a DNS-1123 label (the clusters resolve it on the kind network)`);
        requireArg(this, args.renderDirectory.startsWith("/"), `LocalFleetSource ${name}: renderDirectory ${JSON.stringify(args.renderDirectory)}: expected an absolute path (docker mounts it)`);
        requireArg(this, args.artifact.startsWith(`oci://${args.containerName}:`), `LocalFleetSource ${name}: artifact ${JSON.stringify(args.artifact)}: expected oci://${args.containerName}:<port>/<repository>:<tag>`);
        this.step = stepCommand(
            `${name}-registry`,
            {
                environment: args.environment,
                step: "fleet-source",
                deleteStep: "fleet-source-delete",
                variables: {
                    FLEET_SOURCE_CONTAINER: args.containerName,
                    FLEET_SOURCE_NETWORK: args.network,
                    FLEET_SOURCE_IMAGE: args.registryImage,
                    FLEET_PUSH_IMAGE: args.pushImage,
                    FLEET_RENDER_DIR: args.renderDirectory,
                    FLEET_ARTIFACT_PATH: args.artifactPath,
                    FLEET_ARTIFACT: args.artifact,
                    FLEET_SOURCE_REVISION: args.revision,
                },
            },
            childOf(this, opts),
        );
        this.registerOutputs({ artifact: args.artifact });
    }
}
