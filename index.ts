// fleet-bootstrap: one environment (= this stack) from nothing to a self-sustaining, GitOps-managed fleet.
// config → validated spec (stacks/config.ts) → rendered objects and steps (render/) → components → outputs.
import * as pulumi from "@pulumi/pulumi";
import { immutableFieldChanges, immutableFieldValues } from "./render/immutable";
import { placeholderSecretValues, renderModule } from "./render/modules";
import { stepScriptsDigest } from "./render/steps";
import { readProgramConfig, readSecrets } from "./stacks/programConfig";
import { Environment } from "./stacks/environment";

const spec = readProgramConfig();
// This stack's outputs of its last update, for the checks that refuse a change at preview. Read at preview
// only (`pulumi up` previews first): during an update the engine rewrites the very checkpoint a
// self-reference reads, and the real engine on a file backend then fails now and then with "failed to
// load checkpoint: EOF". Nothing the update creates depends on them.
const self = pulumi.runtime.isDryRun()
    ? new pulumi.StackReference("previous-outputs", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` })
    : undefined;
const lastUpdate = (output: string): pulumi.Output<unknown> => (self ? self.getOutput(output) : pulumi.output(undefined));
const environment = new Environment(spec, readSecrets(spec), {
    previousFluxSyncName: lastUpdate("fluxSyncName") as pulumi.Output<string | undefined>,
});

// A program upgrade that changes only step scripts updates every step Command; say what that means.
export const stepScripts = stepScriptsDigest();
lastUpdate("stepScripts").apply((recorded: unknown) => {
    if (typeof recorded === "string" && recorded !== stepScripts) {
        pulumi.log.info("step scripts changed since the last update (program upgrade): every step records its new script; a step whose inputs did not change runs nothing and prints \"step scripts changed, no cluster change\"");
    }
});

// Fields Cluster API refuses to change in place: refused at preview, with the fix, not halfway through up.
const moduleObjects = spec.bootstrapModules.flatMap((module) => renderModule(spec, module, module.content.kind === "secrets" ? placeholderSecretValues(spec) : undefined));
export const immutableFields = immutableFieldValues(moduleObjects);
lastUpdate("immutableFields").apply((recorded: unknown) => {
    const changes = immutableFieldChanges(recorded as Record<string, string> | undefined, immutableFields);
    if (changes.length > 0) throw new pulumi.RunError(`fleet-bootstrap:bootstrapModules: ${changes.join("\n")}`);
});

const mgmt = spec.managementCluster.name;
const stateDir = `\${FLEET_STATE_DIR:-$HOME/.fleet-bootstrap}/${spec.environment}`;
export const environmentName = spec.environment;
export const managementClusterName = mgmt;
export const temporaryClusterName = spec.temporaryCluster.name;
export const fluxSyncName = environment.flux.syncName;
/** Secret: `pulumi stack output managementKubeconfig --show-secrets > mgmt.kubeconfig` (then chmod 600). */
export const managementKubeconfig = environment.management.kubeconfig;
export const temporaryKubeconfig = environment.temporary.kubeconfig;
export const moveBackupLocation = environment.pivot.backupLocation;
export const nextSteps = {
    getManagementKubeconfig: `(umask 077; pulumi stack output managementKubeconfig --show-secrets -s ${pulumi.getStack()} > ${mgmt}.kubeconfig)`,
    fluxStatus: `kubectl --kubeconfig ${mgmt}.kubeconfig -n flux-system get fluxinstance flux`,
    clusters: `kubectl --kubeconfig ${mgmt}.kubeconfig -n ${spec.clusterNamespace} get clusters`,
    renderFleetRepository: `npm run render -- ${pulumi.getStack()}`,
    stateDirectory: stateDir,
};
