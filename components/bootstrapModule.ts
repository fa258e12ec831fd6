import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BootstrapModuleSpec } from "../stacks/spec";
import { K8sObject } from "../render/types";
import { applyHandedOff, applySecrets } from "./kubernetesObjects";
import { childOf, requireArg } from "./stepCommand";

export interface BootstrapModuleArgs {
    provider: k8s.Provider;
    module: BootstrapModuleSpec;
    /** The module's objects: HelmChartProxy, or ClusterResourceSet with its ConfigMaps/Secrets. */
    objects: K8sObject[];
    /** Real render of the module's Secrets (same order as the Secrets in `objects`), when it has any. */
    secretValues?: pulumi.Output<K8sObject[]>;
    /** Namespace of the Cluster API Clusters it selects; every object must live there. */
    namespace: string;
}

/**
 * What every matching downstream cluster needs before it can sync itself, delivered through Cluster API's
 * add-on mechanisms on the management cluster (CAAPH HelmChartProxy or ClusterResourceSet), selected by
 * labels on `Cluster` objects. One module is a fixed handful of resources, whatever the fleet's size.
 *
 * The fleet repository holds the module too: the program creates its objects before Flux's sync starts and
 * hands them off (Git owns them; removing the module from Git makes Flux prune them). Its Secrets never go
 * to Git: the program keeps applying them.
 */
export class BootstrapModule extends pulumi.ComponentResource {
    public readonly kinds: string[];

    constructor(name: string, args: BootstrapModuleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:index:BootstrapModule", name, {}, opts);
        requireArg(this, Object.keys(args.module.selector).length > 0, `BootstrapModule ${name}: selector: got {}; expected at least one label (an empty selector matches nothing for a ClusterResourceSet and everything for a HelmChartProxy)`);
        for (const object of args.objects) {
            requireArg(this, object.metadata.namespace === args.namespace, `BootstrapModule ${name}: ${object.kind} ${object.metadata.name}: namespace ${JSON.stringify(object.metadata.namespace)}; expected ${args.namespace}, the clusters' namespace (ClusterResourceSets and their resources only work there)`);
        }
        const secretShape = args.objects.filter((o) => o.apiVersion === "v1" && o.kind === "Secret");
        requireArg(this, secretShape.length === 0 || args.secretValues !== undefined, `BootstrapModule ${name}: secretValues: expected the real render of the module's ${secretShape.length} Secret(s)`);

        const onCluster = { ...childOf(this, opts), provider: args.provider };
        const resources = [
            ...args.objects.filter((o) => o.kind === "ConfigMap").map((o) => applyHandedOff(name, o, onCluster)),
            ...(args.secretValues ? applySecrets(name, secretShape, args.secretValues, onCluster) : []),
        ];
        // The selecting object last, so that a ClusterResourceSet never applies half its resources.
        for (const object of args.objects.filter((o) => o.kind !== "ConfigMap" && o.kind !== "Secret")) {
            applyHandedOff(name, object, { ...onCluster, dependsOn: resources });
        }
        this.kinds = [...new Set(args.objects.map((o) => o.kind))].sort();
        this.registerOutputs({ kinds: this.kinds });
    }
}
