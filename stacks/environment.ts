// One environment, composed from the components in dependency order. The order of the bootstrap reads
// top to bottom here; independent work (IAM, Flux preparation, modules) runs beside the critical path.
import * as k8s from "@pulumi/kubernetes";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { AwsClusterGuard } from "../components/awsClusterGuard";
import { AwsIam } from "../components/awsIam";
import { BootstrapModule } from "../components/bootstrapModule";
import { applyHandedOff } from "../components/kubernetesObjects";
import { CapiProviders, ProviderPins } from "../components/capiProviders";
import { FluxInstall } from "../components/fluxInstall";
import { LocalFleetSource } from "../components/localFleetSource";
import { ManagementCluster } from "../components/managementCluster";
import { Pivot } from "../components/pivot";
import { Preflight } from "../components/preflight";
import { TemporaryCluster } from "../components/temporaryCluster";
import { encodeCapaCredentials, ZERO_CREDENTIALS } from "../render/awsCredentials";
import { renderKindConfig } from "../render/capi";
import { renderClusterNamespace, environmentRoot, renderDigest, renderFleetRepository } from "../render/fleetRepo";
import {
    fleetSource,
    fluxCliImage,
    fluxNamespace,
    fluxOperatorBootstrapChart,
    fluxOperatorReleaseName,
    localSourceContainer,
    localSourceRegistryImage,
    renderClusterSettings,
    renderFluxInstance,
    renderFluxSecrets,
} from "../render/flux";
import { placeholderSecretValues, renderManagementBootstrap, renderModule, selectedClusters } from "../render/modules";
import { toYaml } from "../render/yaml";
import { providerDefaults } from "./defaults";
import { checkoutDirectory, committedRenderWarnings, readCommittedRender } from "./fleetCheckout";
import { AwsCredentials, EnvironmentSpec, GitCredentials } from "./spec";

/** The environment's secret config values, as Pulumi secrets. Absent when not configured. */
export interface EnvironmentSecrets {
    sopsAgeKey?: pulumi.Output<string>;
    git?: pulumi.Output<GitCredentials>;
    aws?: pulumi.Output<AwsCredentials>;
}

export interface EnvironmentOptions {
    /** `fluxSyncName` this stack exported at its last update (sync.name is immutable upstream). */
    previousFluxSyncName?: pulumi.Input<string | undefined>;
}

/** Minimum versions of the CLIs the steps run; clusterctl must know the pinned Cluster API contract. */
export function requiredTools(spec: EnvironmentSpec): Record<string, string> {
    return { kind: "0.29.0", clusterctl: spec.versions.clusterApi.slice(1), kubectl: "1.31.0", docker: "24.0.0" };
}

export function providerPins(spec: EnvironmentSpec): ProviderPins {
    const v = spec.versions;
    return {
        core: `cluster-api:${v.clusterApi}`,
        bootstrap: `kubeadm:${v.clusterApi}`,
        controlPlane: `kubeadm:${v.clusterApi}`,
        infrastructure: `${providerDefaults[spec.provider].clusterctlName}:${v.infrastructureProvider}`,
        addon: `helm:${v.helmAddonProvider}`,
    };
}

function secretValues(secrets: EnvironmentSecrets): pulumi.Output<{ sopsAgeKey?: string; git?: GitCredentials }> {
    return pulumi.secret(pulumi.all([secrets.sopsAgeKey, secrets.git]).apply(([sopsAgeKey, git]) => ({ sopsAgeKey, git })));
}

/**
 * Transformations applied to every resource of the environment. Empty for `pulumi up`; the offline plan
 * adds a recorder here, which is how it sees the real program's resources with their options.
 */
export const environmentTransformations: pulumi.ResourceTransformation[] = [];

/** The environment as one component: its children are the bootstrap's components, in dependency order. */
export class Environment extends pulumi.ComponentResource {
    public readonly temporary: TemporaryCluster;
    public readonly management: ManagementCluster;
    public readonly pivot: Pivot;
    public readonly flux: FluxInstall;
    public readonly modules: BootstrapModule[];
    public readonly source?: LocalFleetSource;
    /** The Git side of this spec (`renderFleetRepository`), rendered once per run: the drift check compared it
     * with the committed render, and the offline plan hands it on (tools/planner.ts). */
    public readonly fleetRepository: ReadonlyMap<string, string>;

    constructor(spec: EnvironmentSpec, secrets: EnvironmentSecrets, options: EnvironmentOptions = {}) {
        super("fleet:index:Environment", spec.environment, {}, { transformations: environmentTransformations });
        const parts = composeEnvironment(this, spec, secrets, options);
        this.temporary = parts.temporary;
        this.management = parts.management;
        this.pivot = parts.pivot;
        this.flux = parts.flux;
        this.modules = parts.modules;
        this.source = parts.source;
        this.fleetRepository = parts.fleetRepository;
        this.registerOutputs({ kubeconfig: this.management.kubeconfig, backupLocation: this.pivot.backupLocation });
    }
}

function composeEnvironment(root: pulumi.ComponentResource, spec: EnvironmentSpec, secrets: EnvironmentSecrets, options: EnvironmentOptions) {
    const env = spec.environment;
    const child = { parent: root };
    const mgmt = spec.managementCluster;
    const pins = providerPins(spec);

    const preflight = new Preflight("preflight", { environment: env, requiredTools: requiredTools(spec), optionalTools: { age: "1.1.0" } }, child);

    // On AWS nothing is created while the account holds a cluster of this name that this stack does not own.
    const guard = spec.aws ? new AwsClusterGuard("capa-cluster-guard", { environment: env, clusterName: mgmt.name, region: spec.aws.region }, child) : undefined;
    const guarded = guard ? [guard] : [];
    // AWS IAM does not need any cluster: it runs beside the temporary cluster.
    const iam = spec.aws ? new AwsIam("capa-iam", { reuseExisting: spec.aws.reuseExistingIam }, { ...child, retainOnDelete: true, dependsOn: guarded }) : undefined;

    const temporary = new TemporaryCluster(
        "temporary",
        { environment: env, name: spec.temporaryCluster.name, nodeImage: spec.temporaryCluster.nodeImage, kindConfig: renderKindConfig(spec), adoptExistingManagementCluster: spec.adoptExistingManagementCluster },
        { ...child, dependsOn: [preflight, ...guarded] },
    );

    const bootstrapCredentials: Record<string, pulumi.Input<string>> = spec.aws
        ? spec.aws.credentialsFromEnvironment
            ? { FLEET_AWS_CREDENTIALS_FROM_ENVIRONMENT: "true", AWS_REGION: spec.aws.region }
            : { AWS_B64ENCODED_CREDENTIALS: pulumi.secret(secrets.aws!.apply((creds) => encodeCapaCredentials(creds, spec.aws!.region))) }
        : {};
    const temporaryProviders = new CapiProviders(
        "temporary-providers",
        {
            environment: env,
            target: { kind: "temporary", kindClusterName: temporary.clusterName, clusterUrn: temporary.cluster.urn, adoptExistingManagementCluster: spec.adoptExistingManagementCluster },
            providers: pins,
            variables: bootstrapCredentials,
            // A recreated kind cluster (e.g. `--replace` after it vanished with another machine) starts empty.
            rerunWhen: [temporary.cluster.id],
        },
        // Lives inside kind: deleting kind deletes it, destroy never calls into a dead cluster.
        { ...child, dependsOn: [temporary, ...(iam ? [iam] : [])], deletedWith: temporary.cluster },
    );

    const management = new ManagementCluster(
        "management",
        {
            environment: env,
            kindClusterName: temporary.clusterName,
            temporaryClusterUrn: temporary.cluster.urn,
            clusterName: mgmt.name,
            namespace: spec.clusterNamespace,
            provider: spec.provider,
            manifests: toYaml(renderManagementBootstrap(spec)),
            adoptExistingManagementCluster: spec.adoptExistingManagementCluster,
            // Our own cluster's VPCs, read when the step is created, i.e. while this stack has no record of the
            // cluster (e.g. after destroy): the step refuses to bootstrap it again unless the temporary cluster
            // holds it (an interrupted first up).
            unrecordedClusterVpcs: guard ? guard.ownVpcIds.apply((vpcs) => vpcs.join(" ")) : undefined,
        },
        { ...child, dependsOn: [temporaryProviders], retainOnDelete: true },
    );

    // Everything on the permanent cluster outlives the stack: destroy releases it, never deletes it.
    const permanent = { ...child, retainOnDelete: true };
    const provider = new k8s.Provider("permanent", {
        kubeconfig: management.kubeconfig,
        // Stable identity: an unknown kubeconfig at preview must not plan a replacement of every object.
        clusterIdentifier: `${env}-${mgmt.name}`,
        // Objects may exist already after an interrupted run or a move: with server-side apply, provider
        // 4.25 creates by applying, which adopts an existing object (proven by the engine test).
        enableServerSideApply: true,
    }, child);

    const staticOnPermanent = spec.aws?.staticCredentialsOnPermanent ?? false;
    const permanentProviders = new CapiProviders(
        "permanent-providers",
        {
            environment: env,
            target: { kind: "permanent", kubeconfig: management.kubeconfig },
            providers: pins,
            // CAPA on the permanent cluster uses the controllers instance profile: no credentials to expire.
            variables: spec.aws && !staticOnPermanent ? { AWS_B64ENCODED_CREDENTIALS: ZERO_CREDENTIALS } : bootstrapCredentials,
            capaControllersOnControlPlane: Boolean(spec.aws) && !staticOnPermanent,
        },
        { dependsOn: [management], ...permanent },
    );

    const pivot = new Pivot(
        "pivot",
        {
            environment: env,
            kindClusterName: temporary.clusterName,
            temporaryClusterUrn: temporary.cluster.urn,
            targetKubeconfig: management.kubeconfig,
            clusterName: mgmt.name,
            namespace: spec.clusterNamespace,
            ageRecipient: spec.ageRecipient || undefined,
        },
        { dependsOn: [permanentProviders, temporaryProviders], ...permanent },
    );

    // After the hand-off the clusters follow the committed render, not config: say when they disagree.
    const fleetRepository = renderFleetRepository(spec);
    const committed = readCommittedRender(checkoutDirectory(spec), spec);
    for (const warning of committedRenderWarnings(pulumi.getStack(), spec, fleetRepository, committed.generated)) pulumi.log.warn(warning);

    // `fleetSource: local`: the committed render, served from this machine on the kind network. Needs the
    // network (kind creates it), nothing else; the sync waits for it.
    const source = spec.flux.source === "local" ? localSource(spec, committed.all, { ...child, dependsOn: [temporary] }) : undefined;

    const shapes = placeholderSecretValues(spec);
    const values = secretValues(secrets);
    const flux = new FluxInstall(
        "flux",
        {
            provider,
            namespace: fluxNamespace,
            operatorChart: fluxOperatorBootstrapChart(spec),
            operatorReleaseName: fluxOperatorReleaseName,
            fluxInstance: renderFluxInstance(spec),
            clusterSettings: renderClusterSettings(spec, mgmt),
            secrets: { shape: renderFluxSecrets(shapes), values: values.apply((v) => renderFluxSecrets(v)) },
            syncAfter: [pivot, ...(source ? [source] : [])],
            previousSyncName: options.previousFluxSyncName,
            renameFrom: spec.flux.syncRenameFrom || undefined,
        },
        permanent,
    );

    // Modules live beside the clusters they select; the namespace exists before the move brings the clusters.
    const clusterNamespace = applyHandedOff("cluster", renderClusterNamespace(spec), { provider, ...permanent, aliases: [{ name: "cluster-namespace" }] });
    const modules = spec.bootstrapModules.map((module) => {
        if (selectedClusters(spec, module).length === 0) {
            pulumi.log.warn(`bootstrap module '${module.name}': its selector ${JSON.stringify(module.selector)} matches none of the clusters declared in this stack (clusters added through Git may still match)`);
        }
        const hasSecrets = module.content.kind === "secrets";
        return new BootstrapModule(
            `module-${module.name}`,
            {
                provider,
                module,
                namespace: spec.clusterNamespace,
                objects: renderModule(spec, module, hasSecrets ? shapes : undefined),
                secretValues: hasSecrets ? values.apply((v) => renderModule(spec, module, v)) : undefined,
            },
            // Needs the add-on CRDs of the permanent providers; independent of the pivot.
            { dependsOn: [permanentProviders, clusterNamespace], ...permanent },
        );
    });

    return { temporary, management, pivot, flux, modules, source, fleetRepository };
}

/** `committedFiles`: every file of the committed render (`CommittedRender.all`), what the source serves. */
function localSource(spec: EnvironmentSpec, committedFiles: ReadonlyMap<string, string>, opts: pulumi.ComponentResourceOptions): LocalFleetSource {
    const checkout = checkoutDirectory(spec);
    const root = environmentRoot(spec);
    const served = fleetSource(spec);
    return new LocalFleetSource(
        "fleet-source",
        {
            environment: spec.environment,
            containerName: localSourceContainer(spec),
            network: "kind",
            registryImage: localSourceRegistryImage,
            pushImage: fluxCliImage(spec),
            renderDirectory: path.join(checkout, root),
            artifactPath: root,
            artifact: `${served.url}:${served.ref}`,
            // Hand-written files beside the render are served too: a change to any of them pushes again.
            revision: renderDigest(committedFiles),
        },
        opts,
    );
}
