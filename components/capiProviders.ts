import * as pulumi from "@pulumi/pulumi";
import { adoptVariables, childOf, requireArg, stepCommand } from "./stepCommand";

/** Pinned providers as clusterctl names them: `name:vX.Y.Z`. */
export interface ProviderPins {
    core: string;
    bootstrap: string;
    controlPlane: string;
    infrastructure: string;
    addon: string;
}

export type ProvidersTarget =
    /**
     * `clusterUrn`: the kind cluster's resource, named in the recovery command when the cluster vanished.
     * `adoptExistingManagementCluster`: the stack adopts that cluster, so nothing is installed on a temporary cluster.
     */
    | { kind: "temporary"; kindClusterName: string; clusterUrn: pulumi.Input<string>; adoptExistingManagementCluster?: string }
    | { kind: "permanent"; kubeconfig: pulumi.Input<string> };

export interface CapiProvidersArgs {
    environment: string;
    target: ProvidersTarget;
    providers: ProviderPins;
    /** clusterctl variables (e.g. AWS_B64ENCODED_CREDENTIALS); passed only through the environment. */
    variables?: Record<string, pulumi.Input<string>>;
    /** Schedule CAPA's controller on control-plane nodes, where the `controllers.` instance profile is. */
    capaControllersOnControlPlane?: boolean;
    /** Install again when any of these change: the identity of the target cluster (a recreated kind cluster is empty). */
    rerunWhen?: pulumi.Input<unknown>[];
}

const pin = /^[a-z0-9-]+:v\d+\.\d+\.\d+$/;

/**
 * `clusterctl init` with pinned providers, made idempotent: installs only what the inventory lacks, refuses
 * a provider present at another version, and waits until every controller and webhook answers.
 */
export class CapiProviders extends pulumi.ComponentResource {
    /** The inventory after installation, `type/name=version` per line. */
    public readonly inventory: pulumi.Output<string>;

    constructor(name: string, args: CapiProvidersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:index:CapiProviders", name, {}, opts);
        for (const [role, value] of Object.entries(args.providers)) {
            requireArg(this, pin.test(value), `CapiProviders ${name}: providers.${role}: got ${JSON.stringify(value)}; expected name:vMAJOR.MINOR.PATCH`);
        }
        const target: Record<string, pulumi.Input<string>> =
            args.target.kind === "temporary"
                ? { FLEET_TARGET: "temporary", KIND_CLUSTER_NAME: args.target.kindClusterName, FLEET_TEMPORARY_CLUSTER_URN: args.target.clusterUrn, ...adoptVariables(args.target.adoptExistingManagementCluster) }
                : { FLEET_TARGET: "permanent", FLEET_TARGET_KUBECONFIG: args.target.kubeconfig };
        const variables = {
            ...args.variables,
            ...target,
            CAPI_CORE: args.providers.core,
            CAPI_BOOTSTRAP: args.providers.bootstrap,
            CAPI_CONTROL_PLANE: args.providers.controlPlane,
            CAPI_INFRASTRUCTURE: args.providers.infrastructure,
            CAPI_ADDON: args.providers.addon,
            ...(args.capaControllersOnControlPlane ? { CAPA_CONTROLLERS_ON_CONTROL_PLANE: "true" } : {}),
        };
        const init = stepCommand(`${name}-clusterctl-init`, { environment: args.environment, step: "capi-providers", variables, rerunWhen: args.rerunWhen }, childOf(this, opts));
        this.inventory = init.stdout;
        this.registerOutputs({ inventory: this.inventory });
    }
}
