// Stack `local` under the real engine in the real world of test/real: two real kube-apiservers standing in
// for the kind cluster and the permanent management cluster, the real clusterctl and kubectl, the harness
// playing kind, docker and the controllers; the stack initialized and configured, ready for `up`. Shared by
// the engine test and the bench (its no-change `up`).
import * as crypto from "node:crypto";
import * as path from "node:path";
import { encodeAgeSecretKey } from "../../stacks/ageKey";
import { loadStackSpec } from "../../stacks/stackFiles";
import { EnvironmentSpec } from "../../stacks/spec";
import { FAKE_BIN, RealWorld, startRealWorld } from "../real/world";
import { fluxOperatorChart } from "./fluxOperatorChart";
import { PulumiWorkspace } from "./workspace";

export interface LocalStack {
    spec: EnvironmentSpec;
    world: RealWorld;
    pulumi: PulumiWorkspace;
}

/** A new age secret key, valid as kustomize-controller decrypts with it. */
export const newAgeKey = () => encodeAgeSecretKey(crypto.randomBytes(32));

export function loadLocalSpec(): EnvironmentSpec {
    const result = loadStackSpec("local");
    if (!result.ok) throw new Error(`the local stack's config is invalid:\n${result.errors.join("\n")}`);
    return result.spec;
}

/** The world's variables but PATH: the workspace builds its own, with the world's fakes first. */
function withoutPath(env: Record<string, string>): Record<string, string> {
    const { PATH: _path, ...rest } = env;
    return rest;
}

/** Starts the world under `workDir`/world and initializes stack `local` under `workDir`/engine with `sopsAgeKey`. */
export async function startLocalStack(options: { workDir: string; binDir: string; sopsAgeKey: string }): Promise<LocalStack> {
    const spec = loadLocalSpec();
    const world = await startRealWorld({
        workDir: path.join(options.workDir, "world"),
        binDir: options.binDir,
        managementClusterName: spec.managementCluster.name,
        namespace: spec.clusterNamespace,
        kindClusterName: spec.temporaryCluster.name,
    });
    try {
        const pulumi = new PulumiWorkspace({
            workDir: path.join(options.workDir, "engine"),
            binDir: options.binDir,
            stack: "local",
            pathFirst: [FAKE_BIN],
            env: { ...withoutPath(world.env), FLEET_POLL_SECONDS: "1", FLEET_ROLLOUT_WATCH_SECONDS: "10" },
        });
        await pulumi.ok(["stack", "init"]);
        // ghcr.io is out of reach here: the operator chart comes from the operator's own install manifests.
        await pulumi.ok(["config", "set", "fluxOperatorBootstrapChart", fluxOperatorChart(options.binDir, spec.versions.fluxOperator)]);
        await pulumi.ok(["config", "set", "--secret", "sopsAgeKey"], { stdin: options.sopsAgeKey });
        return { spec, world, pulumi };
    } catch (err) {
        await world.stop();
        throw err;
    }
}
