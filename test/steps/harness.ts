// Runs the real step scripts (stepScript(name) through `bash -c`) against the fake kind,
// clusterctl, kubectl, docker and age (test/fakes/bin), each test in its own world: a temp HOME,
// FLEET_STATE_DIR, fake state, scenario and invocation log. PATH holds only the fakes plus a
// directory of links to bash, coreutils, tar and node (for the fakes' shebang): no real kind,
// kubectl, clusterctl, docker, jq, sed or awk is reachable. KUBECONFIG points at a trap file the
// steps must ignore. Steps run with FLEET_POLL_SECONDS=0, FLEET_API_PROBES=1,
// FLEET_ROLLOUT_WATCH_SECONDS=0 and FLEET_WAIT_CLOCK=polls unless a test says otherwise.
//
// Seeds (seedTemporaryWithProviders, seedManagementReady, World.seedPivot) build the state a
// previous step leaves, so each cell runs only the step under test. checkInvariants() asserts what
// every cell must keep true; cell() runs the cells of a describe block concurrently.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderManagementBootstrap } from "../../render/modules";
import { STEP_COMMANDS, stepScript, StepName } from "../../render/steps";
import { toYaml } from "../../render/yaml";
import { fleetLabels } from "../../stacks/spec";
import { localSpec, stagingSpec } from "../fixtures/specs";
import { crdsDir } from "../fixtures/paths";
import { spawnCommand } from "../support/stepProcess";
import { FakeState, LogEntry, Scenario, ServerState, World, b64 } from "../fakes/world";

export const REPO = path.resolve(__dirname, "..", "..");
const FAKE_BIN = path.join(REPO, "test", "fakes", "bin");
export const ALL_FAKES = ["kind", "clusterctl", "kubectl", "docker", "age"];

// bash, coreutils and tar: what the steps may use besides the fakes.
const SYSTEM_TOOLS = [
    "bash", "sh", "tar", "gzip",
    "base64", "basename", "cat", "chmod", "cp", "cut", "date", "dirname", "env", "false", "head", "id", "ln", "ls",
    "mkdir", "mktemp", "mv", "printf", "readlink", "realpath", "rm", "rmdir", "seq", "sleep", "sort", "stat", "tail",
    "tee", "test", "timeout", "touch", "tr", "true", "uname", "uniq", "wc",
];

const worldRoots: string[] = [];
// Worlds are removed when the test process ends (FLEET_KEEP_TEST_WORLDS=1 keeps them to debug).
process.on("exit", () => {
    if (process.env.FLEET_KEEP_TEST_WORLDS === "1") return;
    for (const root of worldRoots) fs.rmSync(root, { recursive: true, force: true });
});

let systemBinDir: string | undefined;
function systemBin(): string {
    if (systemBinDir) return systemBinDir;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-sysbin-"));
    const searchPath = (process.env.PATH ?? "/usr/bin:/bin").split(":").filter((d) => d && path.resolve(d) !== FAKE_BIN);
    for (const tool of SYSTEM_TOOLS) {
        for (const d of searchPath) {
            const candidate = path.join(d, tool);
            if (fs.existsSync(candidate)) {
                fs.symlinkSync(candidate, path.join(dir, tool));
                break;
            }
        }
    }
    fs.symlinkSync(process.execPath, path.join(dir, "node"));
    systemBinDir = dir;
    worldRoots.push(dir);
    return dir;
}

export interface RunResult {
    step: StepName;
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** stdout and stderr interleaved as they arrived: what @pulumi/command puts in its error message. */
    output: string;
    /** Invocations of the fakes during this run. */
    log: LogEntry[];
    ms: number;
}

export interface RunOptions {
    stdin?: string;
    /** How @pulumi/command runs the step: create (default) or update (then PULUMI_COMMAND_* come from `previous`). */
    operation?: "create" | "update";
    /** The previous run of this step, as the Command's state records it (update only). */
    previous?: RunResult;
    /** Extra or overriding environment; undefined removes a variable. */
    env?: Record<string, string | undefined>;
}

let worlds = 0;

export class TestWorld {
    readonly root: string;
    readonly home: string;
    readonly stateRoot: string;
    readonly envName: string;
    readonly statePath: string;
    readonly logPath: string;
    readonly scenarioPath: string;
    readonly bin: string;
    readonly runs: RunResult[] = [];

    constructor(opts: { env?: string; tools?: string[]; scenario?: Scenario } = {}) {
        this.root = fs.mkdtempSync(path.join(os.tmpdir(), `fleet-steps-${++worlds}-`));
        worldRoots.push(this.root);
        this.home = path.join(this.root, "home");
        this.stateRoot = path.join(this.root, "state");
        this.envName = opts.env ?? "local";
        this.statePath = path.join(this.root, "world.json");
        this.logPath = path.join(this.root, "invocations.jsonl");
        this.scenarioPath = path.join(this.root, "scenario.json");
        this.bin = path.join(this.root, "bin");
        fs.mkdirSync(this.home);
        fs.mkdirSync(this.bin);
        for (const tool of opts.tools ?? ALL_FAKES) fs.symlinkSync(path.join(FAKE_BIN, tool), path.join(this.bin, tool));
        // A KUBECONFIG that must never be used: the steps unset it.
        fs.writeFileSync(path.join(this.home, "trap-kubeconfig"), "server: https://127.0.0.1:1\n");
        this.scenario(opts.scenario ?? {});
    }

    get envDir(): string {
        return path.join(this.stateRoot, this.envName);
    }

    scenario(s: Scenario): void {
        fs.writeFileSync(this.scenarioPath, JSON.stringify(s));
    }

    state(): FakeState {
        return fs.existsSync(this.statePath) ? (JSON.parse(fs.readFileSync(this.statePath, "utf8")) as FakeState) : World.emptyState();
    }

    /** Changes the fake world directly (seeding), then saves it. */
    seed<T>(fn: (w: World) => T): T {
        const w = new World(this.statePath, this.scenarioPath);
        const out = fn(w);
        w.save();
        return out;
    }

    log(): LogEntry[] {
        if (!fs.existsSync(this.logPath)) return [];
        return fs.readFileSync(this.logPath, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as LogEntry);
    }

    kindServer(name = "fleet-local"): ServerState {
        const st = this.state();
        const rec = st.kind[name];
        assert.ok(rec, `kind cluster ${name} exists`);
        return st.servers[String(rec.port)];
    }

    serverNamed(name: string): ServerState | undefined {
        return Object.values(this.state().servers).find((s) => s.name === name);
    }

    kubeconfigOf(srvName: string): string {
        return this.seed((w) => {
            const s = w.serverByName(srvName);
            assert.ok(s, `server ${srvName} exists`);
            return w.kubeconfigFor(s);
        });
    }

    /** Runs a step exactly as its Command does: the one-line create (or update) command, the script in FLEET_STEP_SCRIPT. */
    run(step: StepName, env: Record<string, string | undefined> = {}, opts: RunOptions = {}): Promise<RunResult> {
        const operation = opts.operation ?? "create";
        const previous = operation === "update" && opts.previous ? { PULUMI_COMMAND_STDOUT: trimEnd(opts.previous.stdout), PULUMI_COMMAND_STDERR: trimEnd(opts.previous.stderr) } : {};
        return this.runCommand(step, STEP_COMMANDS[operation], { FLEET_STEP: step, FLEET_STEP_SCRIPT: stepScript(step), ...previous, ...env }, opts);
    }

    /** Runs a command line with /bin/bash -c in this world (the fakes on PATH), as @pulumi/command would. */
    async runCommand(step: StepName, commandLine: string, env: Record<string, string | undefined>, opts: RunOptions = {}): Promise<RunResult> {
        const before = this.log().length;
        const base: Record<string, string | undefined> = {
            PATH: `${this.bin}:${systemBin()}`,
            HOME: this.home,
            FLEET_STATE_DIR: this.stateRoot,
            FLEET_ENV: this.envName,
            FLEET_POLL_SECONDS: "0",
            FLEET_API_PROBES: "1",
            FLEET_ROLLOUT_WATCH_SECONDS: "0",
            // Waits count polls, not the clock: a wait that passes on an idle machine passes on a busy one.
            FLEET_WAIT_CLOCK: "polls",
            KUBECONFIG: path.join(this.home, "trap-kubeconfig"),
            FAKE_STATE: this.statePath,
            FAKE_LOG: this.logPath,
            FAKE_SCENARIO: this.scenarioPath,
            FAKE_ALLOW_KILL: "1",
            // The fakes serve the kinds of these upstream CRDs.
            FLEET_CRDS_DIR: crdsDir(),
        };
        const merged = { ...base, ...env, ...(opts.env ?? {}) };
        const childEnv: Record<string, string> = {};
        for (const [k, v] of Object.entries(merged)) if (v !== undefined) childEnv[k] = v;
        const run = await spawnCommand(commandLine, childEnv, { stdin: opts.stdin });
        const result: RunResult = { step, ...run, log: this.log().slice(before) };
        this.runs.push(result);
        return result;
    }
}

/** @pulumi/command records stdout and stderr without their trailing newline. */
export function trimEnd(text: string): string {
    return text.replace(/\n$/, "");
}

// ------------------------------------------------------------------------------------------
// Seeds: worlds in the states the steps produce, built directly so each cell runs only the step
// under test.
export const DOCKER_PINS = [
    "CoreProvider/cluster-api:v1.14.0",
    "BootstrapProvider/kubeadm:v1.14.0",
    "ControlPlaneProvider/kubeadm:v1.14.0",
    "InfrastructureProvider/docker:v1.14.0",
    "AddonProvider/helm:v0.6.4",
];
export const PIN_ENV = {
    CAPI_CORE: "cluster-api:v1.14.0",
    CAPI_BOOTSTRAP: "kubeadm:v1.14.0",
    CAPI_CONTROL_PLANE: "kubeadm:v1.14.0",
    CAPI_INFRASTRUCTURE: "docker:v1.14.0",
    CAPI_ADDON: "helm:v0.6.4",
};
export const KIND = "fleet-local";
export const MGMT = "mgmt";
export const MGMT_NS = "fleet-system";

/**
 * The management cluster's manifests exactly as the program renders them (render/modules.ts) for the
 * `local` stack (CAPD Dev* kinds), or `staging` (CAPA) with provider "aws": never hand-written objects.
 */
export function renderedManagement(opts: { name?: string; namespace?: string; workers?: number; provider?: "docker" | "aws" } = {}): string {
    const base = opts.provider === "aws" ? stagingSpec() : localSpec();
    const name = opts.name ?? MGMT;
    const mgmt = base.managementCluster;
    const managementCluster = {
        ...mgmt,
        name,
        labels: { ...mgmt.labels, [fleetLabels.cluster]: name },
        workers: { ...mgmt.workers, replicas: opts.workers ?? mgmt.workers.replicas },
    };
    return toYaml(renderManagementBootstrap({ ...base, clusterNamespace: opts.namespace ?? MGMT_NS, managementCluster }));
}

/** kind cluster with the providers installed and ready. */
export function seedTemporaryWithProviders(w: TestWorld, pins = DOCKER_PINS): void {
    w.seed((world) => {
        const srv = world.createKindCluster(KIND);
        world.seedProviders(srv, pins);
    });
}

/** ... plus the management cluster applied and (by default) ready, providers on it too. */
export function seedManagementReady(w: TestWorld, manifests: string, opts: { permanentProviders?: boolean; settle?: number } = {}): void {
    seedTemporaryWithProviders(w);
    w.seed((world) => {
        const srv = world.serverByName(KIND) as ServerState;
        world.seedApply(srv, manifests);
        world.settle(srv, opts.settle ?? 6);
        if (opts.permanentProviders !== false) {
            const perm = world.serverByName(MGMT);
            if (perm) world.seedProviders(perm, DOCKER_PINS);
        }
    });
}

// ------------------------------------------------------------------------------------------
// Invariants every cell checks.
export interface InvariantOptions {
    /** The step prints a credential on stdout by contract (kubeconfig steps). */
    stdoutMayHoldSecrets?: boolean;
    /** A Cluster may be left paused on the temporary cluster (only the refused half-deleted move). */
    allowPausedSource?: boolean;
    /** The last run was killed (SIGKILL): its temp dir may remain until the next run. */
    lastRunKilled?: boolean;
    /** Extra secret values to look for. */
    secrets?: string[];
}

export function checkInvariants(w: TestWorld, opts: InvariantOptions = {}): void {
    const st = w.state();
    const secrets = [...new World(w.statePath).knownSecrets(), ...(opts.secrets ?? [])].filter((s) => s.length >= 8);
    const log = w.log();
    for (const entry of log) {
        const argv = entry.argv.join(" ");
        for (const s of secrets) assert.ok(!argv.includes(s), `a secret value appears on the command line of ${entry.tool}: ${argv}`);
        assert.ok(!entry.env.includes("KUBECONFIG"), `${entry.tool} ${argv} was run with KUBECONFIG set`);
        assert.strictEqual(entry.defaultKubeconfig, null, `${entry.tool} ${argv} used the default kubeconfig ${entry.defaultKubeconfig}`);
        assert.strictEqual(entry.homeKubeConfigTouched, false, `${entry.tool} ${argv} touched ~/.kube/config`);
        for (const f of entry.files) {
            if (f.flag === "--to-directory") {
                assert.ok(f.path.startsWith(path.join(w.envDir, "move-backup") + path.sep), `backup dir ${f.path} is under the state dir`);
                assert.strictEqual(f.mode, "0700", `backup dir ${f.path} is 0700`);
                continue;
            }
            if (f.flag === "-o") continue;
            assert.ok(f.path.startsWith(path.join(w.envDir, "tmp.")), `${f.flag} ${f.path} is in a temp dir under the state dir`);
            assert.strictEqual(f.dirMode, "0700", `${f.flag} ${f.path}: directory mode ${f.dirMode}`);
            if (f.mode !== null) assert.strictEqual(f.mode, "0600", `${f.flag} ${f.path}: file mode ${f.mode}`);
        }
    }
    for (const r of w.runs) {
        for (const s of secrets) {
            assert.ok(!r.stderr.includes(s), `a secret value appears in the stderr of ${r.step}`);
            if (!opts.stdoutMayHoldSecrets) assert.ok(!r.stdout.includes(s), `a secret value appears in the stdout of ${r.step}`);
        }
        if (r.signal === null) {
            for (const line of r.stderr.split("\n").filter(Boolean)) {
                assert.ok(line.startsWith(`[${r.step}`), `stderr line without the [${r.step}] prefix: ${line}`);
            }
        }
    }
    // Credential files are gone after the step (killed runs leave theirs to the next run).
    if (!opts.lastRunKilled && fs.existsSync(w.envDir)) {
        const left = fs.readdirSync(w.envDir).filter((e) => e.startsWith("tmp."));
        assert.deepStrictEqual(left, [], "temp dirs left in the state dir");
        for (const entry of log) for (const f of entry.files) if (f.flag !== "--to-directory" && f.flag !== "-o") assert.ok(!fs.existsSync(f.path), `${f.path} still exists`);
    }
    if (fs.existsSync(w.envDir)) assert.strictEqual((fs.statSync(w.envDir).mode & 0o777).toString(8), "700", "state dir is 0700");
    assert.ok(!fs.existsSync(path.join(w.home, ".kube")), "~/.kube was created");
    // Nothing lost: kind never deleted while it held Clusters.
    for (const h of st.history) {
        if (h.event === "kind-delete") assert.deepStrictEqual(h.heldClusters, [], `kind cluster ${h.name} was deleted while it held ${h.heldClusters?.join(", ")}`);
    }
    // No second management cluster.
    for (const [name, n] of Object.entries(st.managementClustersCreated)) assert.ok(n <= 1, `management cluster ${name} was created ${n} times`);
    // No Cluster left paused on a temporary cluster.
    if (!opts.allowPausedSource) {
        for (const srv of Object.values(st.servers)) {
            if (srv.origin !== "kind") continue;
            for (const c of Object.values(srv.objects["Cluster.cluster.x-k8s.io"] ?? {})) {
                assert.notStrictEqual(c.spec?.paused, true, `Cluster ${c.metadata.namespace}/${c.metadata.name} left paused on kind cluster ${srv.name}`);
            }
        }
    }
}

/** A failure message names what failed, the state left behind and the command that resumes. */
export function assertFailureMessage(r: RunResult, what: RegExp, resume: RegExp = /pulumi up -s local/): void {
    assert.strictEqual(r.code, 1, `exit code 1 expected, got ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`\\[${r.step}[^\\]]*\\] ERROR: `), r.stderr);
    assert.match(r.stderr, what, r.stderr);
    assert.match(r.stderr, new RegExp(`\\[${r.step}[^\\]]*\\] State: `), r.stderr);
    const resumeLine = r.stderr.split("\n").find((l) => l.includes("] To resume: "));
    assert.ok(resumeLine, `no "To resume:" line\n${r.stderr}`);
    assert.match(resumeLine, resume, r.stderr);
}

export function invocations(r: RunResult, tool: string, ...words: string[]): LogEntry[] {
    return r.log.filter((e) => e.tool === tool && words.every((word) => e.argv.includes(word)));
}

// ------------------------------------------------------------------------------------------
// Cells: `cell(name, fn)` is `it(name, fn)`, except that when the first cell of a describe block
// starts, every cell of that block starts too, in a pool one wider than the machine has cores (each
// cell has its own world, so they are independent); each `it` then awaits its own cell. Failures
// still surface in the right test. This keeps the fake-CLI-heavy matrix fast on two cores.
type CellFn = () => Promise<void>;
interface Block { cells: { name: string; fn: CellFn; promise?: Promise<void> }[]; started: boolean }
const blocks = new Map<Mocha.Suite, Block>();
const width = Number(process.env.FLEET_TEST_WIDTH) || os.cpus().length + 1;
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
    if (running >= width) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
        return await fn();
    } finally {
        running--;
        waiting.shift()?.();
    }
}

// scripts/shellcheck.sh takes a few seconds of one core: it starts with the first cell block and
// runs beside the cells; the test that checks it awaits this.
let shellcheckRun: Promise<{ status: number | null; output: string }> | undefined;
export function shellcheckOnce(): Promise<{ status: number | null; output: string }> {
    if (!shellcheckRun) {
        shellcheckRun = spawnCommand(`bash ${JSON.stringify(path.join(REPO, "scripts", "shellcheck.sh"))}`, { ...process.env } as Record<string, string>).then(
            (run) => ({ status: run.code, output: run.output }),
            (e: Error) => ({ status: null, output: e.message }),
        );
    }
    return shellcheckRun;
}

export function cell(name: string, fn: CellFn): void {
    const test = it(name, async function () {
        const b = blocks.get(this.test?.parent as Mocha.Suite) as Block;
        if (!b.started) {
            void shellcheckOnce();
            b.started = true;
            for (const c of b.cells) {
                c.promise = slot(c.fn);
                c.promise.catch(() => undefined); // each test awaits (and reports) its own cell
            }
        }
        await b.cells.find((c) => c.name === name)?.promise;
    });
    const parent = test.parent as Mocha.Suite;
    const block = blocks.get(parent) ?? { cells: [], started: false };
    blocks.set(parent, block);
    block.cells.push({ name, fn });
}

export const FAKE_AWS_SECRET = "FAKE-AWS-SECRET-123";
export const FAKE_AWS_CREDENTIALS = b64(`[default]\naws_access_key_id = FAKE-AWS-KEY-ID-456\naws_secret_access_key = ${FAKE_AWS_SECRET}\nregion = eu-west-1\n`);
