import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { K8sObject } from "../render/types";
import { applyHandedOff, applySecrets, handOff } from "./kubernetesObjects";
import { childOf, requireArg, userError } from "./stepCommand";

export interface HelmChart {
    repo: string;
    chart: string;
    version: string;
    values?: Record<string, unknown>;
}

export interface FluxInstallArgs {
    /** Provider of the permanent management cluster. */
    provider: k8s.Provider;
    namespace: string;
    operatorChart: HelmChart;
    /** Helm release name of the operator: the one Git's HelmRelease upgrades after the hand-off. */
    operatorReleaseName: string;
    /** The FluxInstance named `flux`, as the fleet repository holds it (no secrets: the pull secret is referenced by name). */
    fluxInstance: K8sObject;
    /** The `cluster-settings` ConfigMap for `postBuild.substituteFrom` (also in Git). */
    clusterSettings: K8sObject;
    /** Shape of the credential Secrets (`sops-age`, git pull secret) and their real render (secret). */
    secrets: { shape: K8sObject[]; values: pulumi.Output<K8sObject[]> };
    /** The sync may start only once these are done: the pivot, or Flux would apply the management cluster's definition to a cluster that does not yet own it. */
    syncAfter: pulumi.Input<pulumi.Resource>[];
    /** `spec.sync.name` of the instance the stack created before, if any: it is immutable upstream. */
    previousSyncName: pulumi.Input<string | undefined>;
    /** A deliberate rename: the previous sync name, which the change away from is then accepted. */
    renameFrom?: string;
}

/** How long Pulumi waits for the FluxInstance to become Ready (controllers rolled out). */
export const fluxInstanceTimeoutSeconds = 600;

/**
 * Flux on the permanent management cluster with read-only credentials (`flux install` semantics, no write
 * deploy key): the Flux Operator and a FluxInstance syncing the cluster's path of the fleet repository.
 * The secrets and settings exist before the instance; the instance is never deleted by Pulumi.
 *
 * The fleet repository holds the operator's release, the instance and the settings too: the program creates
 * them before the sync starts, then Flux owns them from Git (`handOff`; the operator's Helm release is
 * upgraded by Git's HelmRelease). The credential Secrets stay out of Git: the program keeps applying them.
 */
export class FluxInstall extends pulumi.ComponentResource {
    public readonly syncName: string;
    public readonly statusCommand: string;

    constructor(name: string, args: FluxInstallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:index:FluxInstall", name, {}, opts);
        const instance = args.fluxInstance;
        const sync = (instance.spec as { sync?: { name?: string } } | undefined)?.sync;
        requireArg(this, instance.kind === "FluxInstance" && instance.metadata.name === "flux", `FluxInstall ${name}: fluxInstance: expected a FluxInstance named "flux" (the operator ignores any other name)`);
        requireArg(this, Boolean(sync?.name), `FluxInstall ${name}: fluxInstance.spec.sync.name: expected an explicit sync name`);
        requireArg(this, instance.metadata.namespace === args.namespace, `FluxInstall ${name}: fluxInstance namespace ${JSON.stringify(instance.metadata.namespace)}: expected ${args.namespace}`);
        this.syncName = sync?.name as string;

        const onCluster = { ...childOf(this, opts), provider: args.provider };
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: args.namespace } }, onCluster);
        const inNamespace = { ...onCluster, dependsOn: [namespace] };
        const secrets = applySecrets(name, args.secrets.shape, args.secrets.values, inNamespace);
        const settings = applyHandedOff(name, args.clusterSettings, inNamespace);
        const operator = new k8s.helm.v3.Release(
            `${name}-operator`,
            {
                name: args.operatorReleaseName,
                chart: `${args.operatorChart.repo}/${args.operatorChart.chart}`,
                version: args.operatorChart.version,
                namespace: args.namespace,
                values: args.operatorChart.values,
                // Wait for the operator (and so its CRDs) before the FluxInstance is created.
                skipAwait: false,
                timeout: 600,
            },
            // After the hand-off helm-controller upgrades this release from Git: the program installs, never upgrades.
            { ...inNamespace, ignoreChanges: ["chart", "version", "values", "repositoryOpts"] },
        );

        // The instance installs the Flux controllers beside the pivot, without a sync: Flux must not apply the
        // management cluster's definition from Git before the move has brought its objects (a second cluster).
        const { sync: _sync, ...install } = instance.spec as Record<string, unknown>;
        const { apiVersion, kind } = instance;
        const awaited = {
            ...instance.metadata,
            annotations: { ...instance.metadata.annotations, "pulumi.com/waitFor": "condition=Ready", "pulumi.com/timeoutSeconds": String(fluxInstanceTimeoutSeconds) },
        };
        // Deleting a FluxInstance deletes Flux's CRDs and every Flux object: never let Pulumi do it.
        const installOnly = handOff({ apiVersion, kind, metadata: awaited, spec: install }, { ...onCluster, retainOnDelete: true, dependsOn: [operator] });
        const fluxInstance = new k8s.apiextensions.CustomResource(`${name}-instance`, installOnly.object, installOnly.opts);

        // sync.name is immutable in the Flux Operator: refuse a change at preview instead of failing the apply.
        const checkedSpec = pulumi.output(args.previousSyncName).apply((previous) => {
            if (previous && previous !== this.syncName && previous !== args.renameFrom) {
                throw userError(
                    `FluxInstall ${name}: fleet-bootstrap:fluxSyncName changed from "${previous}" to "${this.syncName}". ` +
                        "The FluxInstance sync name is immutable: changing it would make the operator delete and recreate every Flux object. " +
                        `Set fluxSyncName back to "${previous}", or rename deliberately: README "Renaming the Flux sync" (fluxSyncRenameFrom: ${previous}).`,
                    this,
                );
            }
            return instance.spec;
        });
        // The sync, once the pivot is done and the secrets and settings it uses exist: the whole instance as Git
        // holds it, with the same field manager as the install (so the install's fields stay owned). From then on
        // the instance's own sync applies it from Git: the operator upgrades Flux from there.
        const synced = handOff(
            { ...instance, spec: checkedSpec },
            { ...onCluster, retainOnDelete: true, dependsOn: [fluxInstance, settings, ...secrets, ...(args.syncAfter as pulumi.Resource[])] },
        );
        new k8s.apiextensions.CustomResourcePatch(`${name}-sync`, synced.object, synced.opts);
        this.statusCommand = `kubectl --kubeconfig <management kubeconfig> -n ${args.namespace} get fluxinstance flux`;
        this.registerOutputs({ syncName: this.syncName, statusCommand: this.statusCommand });
    }
}
