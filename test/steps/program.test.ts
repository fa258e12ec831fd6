// Every step Command exactly as the program registers it (the offline planner runs index.ts under mocks:
// command line, interpreter, environment with the script, stdin with the rendered manifests), run against
// the fakes in the plan's graph order, each step's stdout feeding the steps that use it. Then the
// environment's lifetime: a program upgrade after the pivot with kind gone, and what a failing step shows.
import * as assert from "assert";
import { STEP_INTERPRETER, STEP_SCRIPT_VARIABLES, StepName, stepInputsDigest } from "../../render/steps";
import { componentOrder } from "../../tools/plan";
import { ancestors, Plan, planStack, PlannedResource } from "../../tools/planner";
import { ServerState } from "../fakes/world";
import { RunOptions, RunResult, TestWorld, cell, checkInvariants, invocations, trimEnd } from "./harness";

const COMMAND = "command:local:Command";

/** The stack's plan with real (fake) secret values, as `pulumi up` would pass them. */
async function programPlan(stack: string, overrides: Record<string, unknown> = {}): Promise<Plan> {
    const result = await planStack({ stack, overrides, revealSecrets: true });
    assert.ok(result.ok, result.ok ? "" : result.errors.join("\n"));
    return result.plan;
}

/** The step Commands in the plan's graph order: by top-level component, then registration order. */
function commandsInGraphOrder(plan: Plan): PlannedResource[] {
    const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
    return componentOrder(plan).flatMap((component) =>
        plan.resources.filter((r) => r.type === COMMAND && [r, ...ancestors(r, byUrn)].some((a) => a.urn === component.urn)),
    );
}

interface StepRun {
    command: PlannedResource;
    step: StepName;
    env: Record<string, string>;
    stdin?: string;
    result: RunResult;
}

/** A Command's environment with the mock outputs of earlier steps replaced by what those steps printed. */
function resolvedInputs(command: PlannedResource, done: StepRun[]): { env: Record<string, string>; stdin?: string } {
    const resolve = (value: string) => value.replace(/\[output of ([\w-]+)\]/g, (_, name: string) => {
        const producer = done.find((d) => d.command.name === name);
        assert.ok(producer, `${command.name} uses the output of ${name}, which has not run before it`);
        return trimEnd(producer.result.stdout);
    });
    const raw = command.inputs.environment as Record<string, string>;
    const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, resolve(String(v))]));
    const stdin = typeof command.inputs.stdin === "string" ? resolve(command.inputs.stdin) : undefined;
    // The digest the program computes from the real values (the plan computed it from the mock outputs).
    const inputs = Object.fromEntries(Object.entries(env).filter(([k]) => !(STEP_SCRIPT_VARIABLES as readonly string[]).includes(k)));
    env.FLEET_STEP_INPUTS_DIGEST = stepInputsDigest(inputs, stdin);
    return { env, stdin };
}

/** Runs one Command as @pulumi/command would: interpreter + create (or update, with the previous run). */
function runCommand(w: TestWorld, command: PlannedResource, env: Record<string, string>, stdin: string | undefined, opts: RunOptions = {}): Promise<RunResult> {
    assert.deepStrictEqual(command.inputs.interpreter, [...STEP_INTERPRETER]);
    const line = String(opts.operation === "update" ? command.inputs.update : command.inputs.create);
    assert.ok(line.length < 100 && !line.includes("\n"), `${command.name}: the command the engine runs is one short line, got ${line.length} characters`);
    const previous = opts.operation === "update" && opts.previous
        ? { PULUMI_COMMAND_STDOUT: trimEnd(opts.previous.stdout), PULUMI_COMMAND_STDERR: trimEnd(opts.previous.stderr) }
        : {};
    return w.runCommand(env.FLEET_STEP as StepName, line, { ...env, ...previous }, { ...opts, stdin });
}

/** `pulumi up` on an empty environment: every Command's create, in graph order, up to the first failure. */
async function runGraph(w: TestWorld, plan: Plan): Promise<{ runs: StepRun[]; failed?: StepRun }> {
    const runs: StepRun[] = [];
    for (const command of commandsInGraphOrder(plan)) {
        const { env, stdin } = resolvedInputs(command, runs);
        const result = await runCommand(w, command, env, stdin);
        const run = { command, step: env.FLEET_STEP as StepName, env, stdin, result };
        if (result.code !== 0) return { runs, failed: run };
        runs.push(run);
    }
    return { runs };
}

/** runGraph, which must succeed. */
async function up(w: TestWorld, plan: Plan): Promise<StepRun[]> {
    const { runs, failed } = await runGraph(w, plan);
    assert.strictEqual(failed, undefined, `${failed?.command.name} failed:\n${failed?.result.stderr}`);
    return runs;
}

/** `pulumi destroy`: the delete command each Command recorded, with its recorded environment, in reverse order. */
async function destroy(w: TestWorld, runs: StepRun[]): Promise<void> {
    for (const run of [...runs].reverse()) {
        if (!run.command.inputs.delete) continue;
        assert.ok(run.command.options.deletedWith === undefined && !run.command.options.retainOnDelete, `${run.command.name} is deleted, not released`);
        const r = await w.runCommand(run.step, String(run.command.inputs.delete), { ...run.env, PULUMI_COMMAND_STDOUT: trimEnd(run.result.stdout), PULUMI_COMMAND_STDERR: trimEnd(run.result.stderr) });
        assert.strictEqual(r.code, 0, `${run.command.name} delete: ${r.stderr}`);
    }
}

/** What the engine prints for a failed Command: @pulumi/command's error, `%w: running %q:\n%s`. */
function engineError(commandLine: string, result: RunResult): string {
    return `exit status ${result.code}: running ${JSON.stringify(commandLine)}:\n${result.output}`;
}

/** The run of a step (its first, for a step the graph runs twice). */
function ofStep<T extends { step: string }>(runs: T[], step: string): T {
    const run = runs.find((r) => r.step === step);
    assert.ok(run, `no ${step} step ran: ${runs.map((r) => r.step).join(", ")}`);
    return run;
}

const clusterOn = (srv: ServerState | undefined, id: string) => srv?.objects["Cluster.cluster.x-k8s.io"]?.[id];

describe("the program's own steps against the fakes (stack local)", () => {
    let plan: Plan;
    before(async () => {
        plan = await programPlan("local");
    });

    cell("fresh: every step Command the program registers, in graph order, from an empty world to a verified pivot", async () => {
        const w = new TestWorld();
        const runs = await up(w, plan);
        assert.deepStrictEqual(runs.map((r) => r.step), ["preflight", "temporary-cluster-create", "capi-providers", "fleet-source", "management-cluster", "capi-providers", "pivot"]);
        const spec = plan.spec;
        const id = `${spec.clusterNamespace}/${spec.managementCluster.name}`;
        const kind = w.kindServer(spec.temporaryCluster.name);
        const permanent = w.serverNamed(spec.managementCluster.name);
        assert.strictEqual(clusterOn(kind, id), undefined, "the Cluster left kind");
        assert.ok(clusterOn(permanent, id), "the Cluster is on the permanent cluster");
        assert.notStrictEqual(clusterOn(permanent, id)?.spec?.paused, true);
        // The program renders CAPD's Dev* kinds, and they reached the permanent cluster.
        assert.ok(Object.keys(permanent?.objects["DevCluster.infrastructure.cluster.x-k8s.io"] ?? {}).includes(id));
        assert.ok(Object.keys(permanent?.objects["DevMachineTemplate.infrastructure.cluster.x-k8s.io"] ?? {}).length >= 2);
        assert.deepStrictEqual(w.state().history.filter((h) => h.event === "move").length, 1);
        assert.strictEqual(w.state().managementClustersCreated[spec.managementCluster.name], 1);
        assert.ok(kind.objects["ConfigMap"]?.["kube-system/fleet-bootstrap-pivoted"], "the verified move is recorded on the temporary cluster");
        assert.match(trimEnd(ofStep(runs, "pivot").result.stdout), /move-backup\/\d{8}T\d{6}Z$/);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("upgraded after the pivot, kind gone: a step-script change runs nothing on any cluster; changed temporary-side inputs do nothing either", async () => {
        const w = new TestWorld();
        const runs = await up(w, plan);
        const spec = plan.spec;
        w.seed((world) => world.deleteKindCluster(spec.temporaryCluster.name, "kind-vanished"));
        const historyBefore = w.state().history.length;

        // A program upgrade: one comment more in steps/lib.sh, the same inputs. Every Command is updated.
        const upgraded: RunResult[] = [];
        for (const run of runs) {
            const env = { ...run.env, FLEET_STEP_SCRIPT: `${run.env.FLEET_STEP_SCRIPT}\n# a comment added by the upgrade\n` };
            const r = await runCommand(w, run.command, env, run.stdin, { operation: "update", previous: run.result });
            assert.strictEqual(r.code, 0, `${run.command.name}: ${r.stderr}`);
            assert.match(r.stderr, /step scripts changed, no cluster change/, run.command.name);
            assert.strictEqual(trimEnd(r.stdout), trimEnd(run.result.stdout), `${run.command.name} keeps its output`);
            assert.deepStrictEqual(r.log, [], `${run.command.name} ran no tool`);
            upgraded.push(r);
        }
        // The next up after it: nothing to update; a further upgrade still finds the digest in the new state.
        const again = await runCommand(w, runs[1].command, runs[1].env, runs[1].stdin, { operation: "update", previous: upgraded[1] });
        assert.match(again.stderr, /step scripts changed, no cluster change/);

        // Config changed after the pivot: a new kind node image, a newer CAPD pin on kind, a new worker count.
        // The temporary-side steps see kind gone and do nothing; the management step applies nothing
        // (changes go through Git).
        const changed = (run: StepRun): { env: Record<string, string>; stdin?: string } => {
            const env = { ...run.env };
            if (env.KIND_NODE_IMAGE) env.KIND_NODE_IMAGE = env.KIND_NODE_IMAGE.replace(/@sha256:.*/, `@sha256:${"a".repeat(64)}`);
            if (env.FLEET_TARGET === "temporary") env.CAPI_INFRASTRUCTURE = "docker:v1.14.1";
            const stdin = run.stdin?.replace(/replicas: 1\n/g, "replicas: 2\n");
            const inputs = Object.fromEntries(Object.entries(env).filter(([k]) => !(STEP_SCRIPT_VARIABLES as readonly string[]).includes(k)));
            return { env: { ...env, FLEET_STEP_INPUTS_DIGEST: stepInputsDigest(inputs, stdin) }, stdin };
        };
        for (const [i, run] of runs.entries()) {
            if (!["temporary-cluster-create", "management-cluster"].includes(run.step) && run.env.FLEET_TARGET !== "temporary") continue;
            const { env, stdin } = changed(run);
            const r = await runCommand(w, run.command, env, stdin, { operation: "update", previous: upgraded[i] });
            assert.strictEqual(r.code, 0, `${run.command.name}: ${r.stderr}`);
            assert.doesNotMatch(r.stderr, /step scripts changed/, "real input changes are not mistaken for a script change");
            if (run.step === "management-cluster") assert.match(r.stderr, /changes to the management cluster now go through Git/);
            else assert.match(r.stderr, /an update never recreates it: after a verified move nothing needs it, so this step does nothing/);
            assert.strictEqual(trimEnd(r.stdout), trimEnd(run.result.stdout));
        }
        const after = w.state().history.slice(historyBefore);
        assert.deepStrictEqual(after, [], `nothing was created, deleted or moved: ${JSON.stringify(after)}`);
        assert.strictEqual(w.state().kind[spec.temporaryCluster.name], undefined, "no new kind cluster");
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("destroyed then up, cluster exists (docker): refused with the commands that adopt it; adopted when config says so: no kind, no move, no second cluster", async () => {
        const w = new TestWorld();
        const spec = plan.spec;
        const first = await up(w, plan);
        await destroy(w, first);
        assert.strictEqual(w.state().kind[spec.temporaryCluster.name], undefined, "destroy deleted kind");
        assert.ok(w.serverNamed(spec.managementCluster.name), "destroy left the management cluster running");

        // The next `pulumi up` starts from an empty stack: it must not build a second management cluster.
        const again = await runGraph(w, plan);
        assert.ok(again.failed, "refused");
        assert.strictEqual(again.failed.command.name, "management-apply-and-wait");
        const resume = again.failed.result.stderr.split("\n").find((l) => l.includes("] To resume: ")) ?? "";
        const adopt = /\(umask 077; kind get kubeconfig --name mgmt > (\S+)\); pulumi config set -s local fleet-bootstrap:adoptExistingManagementCluster (\S+); pulumi up -s local/.exec(resume);
        assert.ok(adopt, again.failed.result.stderr);
        assert.strictEqual(adopt[1], adopt[2]);
        assert.strictEqual(invocations(again.failed.result, "kubectl", "apply").length, 0);

        // Following the message: the kubeconfig from kind (which finds CAPD clusters by their labels), then config.
        const kubeconfig = await w.runCommand("management-cluster", `(umask 077; kind get kubeconfig --name ${spec.managementCluster.name} > ${adopt[1]})`, { KUBECONFIG: undefined });
        assert.strictEqual(kubeconfig.code, 0, kubeconfig.stderr);
        const historyBefore = w.state().history.length;
        const adopted = await up(w, await programPlan("local", { adoptExistingManagementCluster: adopt[1] }));
        assert.match(ofStep(adopted, "temporary-cluster-create").result.stderr, /adopting the existing management cluster .*no temporary cluster is used, so this step does not create a kind cluster/);
        assert.match(ofStep(adopted, "management-cluster").result.stderr, /adopting the existing management cluster: Cluster \S+ manages itself there; nothing is applied/);
        assert.match(ofStep(adopted, "pivot").result.stderr, /already pivoted/);
        const events = w.state().history.slice(historyBefore).map((h) => h.event);
        assert.deepStrictEqual(events, [], "no kind created, nothing moved, no second management cluster");
        assert.strictEqual(w.state().managementClustersCreated[spec.managementCluster.name], 1);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("kubeconfig expired: the management step says what to run; after it, the stack keeps the cluster's own current kubeconfig", async () => {
        const w = new TestWorld();
        const spec = plan.spec;
        const runs = await up(w, plan);
        const management = runs.find((r) => r.step === "management-cluster")!;
        // A config change after the pivot re-runs the management step with the kubeconfig it kept: refused (401).
        w.scenario({ fail: { "kubectl get clusters.cluster.x-k8s.io": [{ stderr: "error: You must be logged in to the server (Unauthorized)" }] } });
        w.seed((world) => world.deleteKindCluster(spec.temporaryCluster.name, "kind-vanished"));
        const stdin = management.stdin?.replace(/replicas: 1\n/g, "replicas: 2\n");
        const inputs = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([k]) => !(STEP_SCRIPT_VARIABLES as readonly string[]).includes(k)));
        const refused = await runCommand(w, management.command, { ...management.env, FLEET_STEP_INPUTS_DIGEST: stepInputsDigest(inputs(management.env), stdin) }, stdin, { operation: "update", previous: management.result });
        assert.strictEqual(refused.code, 1);
        const last = refused.stderr.trimEnd().split("\n").slice(-3);
        assert.match(last[0], /ERROR: the permanent cluster refuses the kubeconfig this stack kept \(error: You must be logged in to the server \(Unauthorized\)\): its client certificate has expired/);
        assert.match(last[2], /To resume: \(umask 077; kind get kubeconfig --name mgmt > ~\/\.fleet-bootstrap\/local\/mgmt\.kubeconfig\); pulumi config set -s local fleet-bootstrap:adoptExistingManagementCluster ~\/\.fleet-bootstrap\/local\/mgmt\.kubeconfig; pulumi up -s local/);

        // Doing what it says (the credential now current again).
        w.scenario({});
        const file = "~/.fleet-bootstrap/local/mgmt.kubeconfig";
        const fetched = await w.runCommand("management-cluster", `mkdir -p ~/.fleet-bootstrap/local && (umask 077; kind get kubeconfig --name mgmt > ${file})`, { KUBECONFIG: undefined });
        assert.strictEqual(fetched.code, 0, fetched.stderr);
        const env = { ...management.env, FLEET_ADOPT_KUBECONFIG_FILE: file };
        const renewed = await runCommand(w, management.command, { ...env, FLEET_STEP_INPUTS_DIGEST: stepInputsDigest(inputs(env), stdin) }, stdin, { operation: "update", previous: management.result });
        assert.strictEqual(renewed.code, 0, renewed.stderr);
        assert.strictEqual(trimEnd(renewed.stdout), trimEnd(w.kubeconfigOf(spec.managementCluster.name)), "the cluster's own kubeconfig Secret");
        assert.strictEqual(invocations(renewed, "kubectl", "apply").length, 0);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });

    cell("a failing step: what the engine prints is one short command line and the step's output, under 2 KB, ending with its ERROR, State and To resume lines", async () => {
        // The failure: the API server does not serve a rendered kind, on every attempt.
        const noMatch = 'error: resource mapping not found for name: "mgmt-md-0-830eaf2e" namespace: "fleet-local" from "STDIN": no matches for kind "DevMachineTemplate" in version "infrastructure.cluster.x-k8s.io/v1beta2"\nensure CRDs are installed first';
        const w = new TestWorld({ scenario: { fail: { "kubectl apply": [{ stderr: noMatch }] } } });
        const { failed } = await runGraph(w, plan);
        assert.ok(failed, "a step fails");
        assert.strictEqual(failed.command.name, "management-apply-and-wait");
        const shown = `error: ${engineError(String(failed.command.inputs.create), failed.result)}`;
        if (process.env.FLEET_SHOW_FAILURE) console.log(shown);
        assert.ok(Buffer.byteLength(shown) < 2048, `${Buffer.byteLength(shown)} bytes:\n${shown}`);
        assert.ok(!shown.includes("fleet-bootstrap step library"), "no script text");
        const last = shown.trimEnd().split("\n").slice(-3);
        assert.match(last[0], /^\[management-cluster\] ERROR: kubectl apply of the management cluster to the temporary cluster failed .*no matches for kind "DevMachineTemplate"/);
        assert.match(last[1], /^\[management-cluster\] State: /);
        assert.match(last[2], /^\[management-cluster\] To resume: pulumi up -s local$/);
        checkInvariants(w, { stdoutMayHoldSecrets: true });
    });
});

describe("the program's management step on AWS, after destroy (stack staging)", () => {
    it("gets this environment's VPCs when it is created (the stack has no record of its cluster), and never updates for them", async () => {
        const result = await planStack({ stack: "staging", invokeResults: { "aws:ec2/getVpcs:getVpcs": { ids: ["vpc-0abc1234"] } } });
        assert.ok(result.ok, result.ok ? "" : result.errors.join("\n"));
        const step = result.plan.resources.find((r) => r.type === COMMAND && r.name === "management-apply-and-wait");
        const env = step?.inputs.environment as Record<string, string>;
        assert.strictEqual(env.FLEET_UNRECORDED_CLUSTER_VPCS, "vpc-0abc1234", "a created step refuses to bootstrap the running cluster again");
        assert.deepStrictEqual(step?.options.ignoreChanges, ["environment.FLEET_UNRECORDED_CLUSTER_VPCS"], "the VPCs found later never update the step");
        const { FLEET_UNRECORDED_CLUSTER_VPCS: _vpcs, ...digested } = Object.fromEntries(
            Object.entries(env).filter(([k]) => !(STEP_SCRIPT_VARIABLES as readonly string[]).includes(k)),
        );
        assert.strictEqual(env.FLEET_STEP_INPUTS_DIGEST, stepInputsDigest(digested, step?.inputs.stdin as string | undefined), "nor do they count as a changed input");
    });
});
