// The real engine's cost of this program against the floor every TypeScript Pulumi program pays: `pulumi
// preview` of stack `local` and of an empty TypeScript program (one ComponentResource, one output, the
// same package versions), alternated in one run, warm, median of the runs; the peak memory of the whole
// process tree (pulumi, language host, node, plugins); `up` with no change on a converged stack: `local`
// converged against the engine test's world (test/engine/localStack.ts), the empty programs on their own.
// Runs in the engine tests' workspace (test/engine/workspace.ts): a project copy, a file backend, its own
// PULUMI_HOME, the plugins from the engine tools' bin directory, nothing downloaded.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { newAgeKey, startLocalStack } from "../../test/engine/localStack";
import { CommandResult, PulumiWorkspace, REPO } from "../../test/engine/workspace";
import { endedChildrenCpuSeconds, sampleTreeMemory } from "./processTree";

/** Measured runs of each command per program, after one unmeasured warm-up; the median counts. */
const measuredRuns = 3;

interface EngineMeasure {
    /** Median wall time of the measured runs. */
    seconds: number;
    runs: number[];
    /** Median CPU time (user + system) of the whole process tree. */
    cpuSeconds: number;
    /** Median over the runs of the peak summed RSS of the process tree, MiB. */
    peakMemoryMiB: number;
}

export interface EngineProgram {
    name: string;
    description: string;
    /** Steps of `pulumi preview --json` (the stack included) and its diagnostics. */
    resources: number;
    diagnostics: string[];
    /** The first preview of the fresh project copy (the warm-up): what a fresh checkout, as in CI, pays. */
    firstPreviewSeconds: number;
    firstPreviewPeakMemoryMiB: number;
    previewSeconds: number;
    previewRuns: number[];
    /** CPU time of the preview's process tree (median): the same comparison, less exposed to other load. */
    previewCpuSeconds: number;
    /** Of the preview. */
    peakMemoryMiB: number;
    /** `up --expect-no-changes` on the converged stack (not measured for the runtime-block variant). */
    upNoChange?: EngineMeasure & { note: string };
}

/** A stack of a program that has converged: where a no-change `up` runs. */
interface Converged {
    workspace: PulumiWorkspace;
    note: string;
    stop(): Promise<void>;
}

interface Program {
    name: string;
    description: string;
    /** Where the previews run: a new stack, nothing created yet. */
    workspace: PulumiWorkspace;
    /** Converges a stack of the program for the no-change `up`, started after the previews so that nothing
     * else runs beside them; none where that `up` is not measured. */
    converge?: () => Promise<Converged>;
}

type Sample = { result: CommandResult; peakMemoryMiB: number; cpuSeconds: number };

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The runtime block `pulumi new typescript` writes: the runtime's ts-node (without one installed, its
 * bundled 7.0.1, which type-checks a file only when its disk cache does not hold it yet). */
const templateRuntime = "runtime:\n  name: nodejs\n  options:\n    typescript: true\n";

/** The empty program, as `pulumi new typescript` lays it out, with one component and one output. */
function emptyProgramFiles(runtime: string): Record<string, string> {
    return {
        "Pulumi.yaml": `name: empty-typescript\n${runtime}`,
        "package.json": `${JSON.stringify({ name: "empty-typescript", main: "index.ts", dependencies: { "@pulumi/pulumi": readVersion("@pulumi/pulumi") } }, null, 4)}\n`,
        "tsconfig.json": `${JSON.stringify(
            {
                compilerOptions: { strict: true, outDir: "bin", target: "es2020", module: "commonjs", moduleResolution: "node", sourceMap: true, experimentalDecorators: true, pretty: true, noFallthroughCasesInSwitch: true, noImplicitReturns: true, forceConsistentCasingInFileNames: true },
                files: ["index.ts"],
            },
            null,
            4,
        )}\n`,
        "index.ts": [
            `import * as pulumi from "@pulumi/pulumi";`,
            ``,
            `class Empty extends pulumi.ComponentResource {`,
            `    constructor(name: string) {`,
            `        super("bench:index:Empty", name, {}, {});`,
            `        this.registerOutputs({});`,
            `    }`,
            `}`,
            ``,
            `export const urn = new Empty("empty").urn;`,
            ``,
        ].join("\n"),
    };
}

function readVersion(pkg: string): string {
    return (JSON.parse(fs.readFileSync(path.join(REPO, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
}

/** Whether a package brings a Pulumi resource plugin (the language host asks the engine to load every one it finds). */
function isProviderPackage(dir: string): boolean {
    const file = path.join(dir, "package.json");
    return fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, "utf8")) as { pulumi?: { resource?: boolean } }).pulumi?.resource === true;
}

/**
 * Replaces the project copy of `workspace` with the empty program. Its node_modules links to the project's
 * packages (the same versions) except the provider SDKs (@pulumi/kubernetes, ...), which an empty program
 * does not have and whose plugins the engine would otherwise start. The project's runtime/ stays: the
 * project's runtime block preloads from it.
 */
function writeEmptyProgram(workspace: PulumiWorkspace, runtime: string): void {
    for (const entry of fs.readdirSync(workspace.projectDir).filter((e) => e !== "runtime")) fs.rmSync(path.join(workspace.projectDir, entry), { recursive: true, force: true });
    for (const [name, text] of Object.entries(emptyProgramFiles(runtime))) fs.writeFileSync(path.join(workspace.projectDir, name), text);
    const source = path.join(REPO, "node_modules");
    const target = path.join(workspace.projectDir, "node_modules");
    for (const entry of fs.readdirSync(source)) {
        const packages = entry.startsWith("@") ? fs.readdirSync(path.join(source, entry)).map((name) => path.join(entry, name)) : [entry];
        for (const pkg of packages.filter((p) => !isProviderPackage(path.join(source, p)))) {
            fs.mkdirSync(path.dirname(path.join(target, pkg)), { recursive: true });
            fs.symlinkSync(path.join(source, pkg), path.join(target, pkg));
        }
    }
}

async function measure(workspace: PulumiWorkspace, args: string[]): Promise<Sample> {
    const cpuBefore = endedChildrenCpuSeconds();
    const memory = sampleTreeMemory(process.pid);
    let result: CommandResult;
    try {
        result = await workspace.ok(args);
    } catch (err) {
        memory.stop();
        throw err;
    }
    return { result, peakMemoryMiB: memory.stop(), cpuSeconds: endedChildrenCpuSeconds() - cpuBefore };
}

function summarize(samples: Sample[]): EngineMeasure {
    const round = (n: number) => Number(n.toFixed(2));
    return {
        seconds: round(median(samples.map((s) => s.result.seconds))),
        runs: samples.map((s) => round(s.result.seconds)),
        cpuSeconds: round(median(samples.map((s) => s.cpuSeconds))),
        peakMemoryMiB: round(median(samples.map((s) => s.peakMemoryMiB))),
    };
}

interface PreviewJson {
    steps: unknown[];
    diagnostics?: Array<{ severity: string; message: string }>;
}

/** Runs the command in every program's workspace alternately, so that the same load on the machine falls on each. */
async function alternate(workspaces: Map<string, PulumiWorkspace>, args: string[], log: (line: string) => void): Promise<Map<string, Sample[]>> {
    const samples = new Map<string, Sample[]>([...workspaces.keys()].map((name) => [name, []]));
    for (let i = 0; i < measuredRuns; i++) {
        for (const [name, workspace] of workspaces) {
            const sample = await measure(workspace, args);
            samples.get(name)!.push(sample);
            log(`  pulumi ${args[0]} ${name}: ${sample.result.seconds.toFixed(2)} s (CPU ${sample.cpuSeconds.toFixed(2)} s), ${sample.peakMemoryMiB.toFixed(0)} MiB`);
        }
    }
    return samples;
}

/** An empty program's stack after one `up`: it converges without clusters. */
async function convergeOwn(workspace: PulumiWorkspace): Promise<Converged> {
    const up = await workspace.ok(["up", "--yes"]);
    return { workspace, note: `converged by one \`up\` (${up.seconds.toFixed(1)} s)`, stop: async () => {} };
}

export interface EngineMeasurement {
    binDir: string;
    pulumiVersion: string;
    measuredRuns: number;
    programs: EngineProgram[];
}

/** `local`, the empty program as `pulumi new typescript` makes it, and the empty program with this project's runtime block. */
export async function measureEngine(binDir: string, log: (line: string) => void): Promise<EngineMeasurement> {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-bench-engine-"));
    try {
        const projectRuntime = /^runtime:\n(?: .*\n)+/m.exec(fs.readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8"))?.[0];
        if (!projectRuntime) throw new Error("Pulumi.yaml has no runtime block");
        const workspace = (name: string, stack: string) => new PulumiWorkspace({ workDir: path.join(workDir, name), binDir, stack });
        const empty = workspace("empty", "bench");
        writeEmptyProgram(empty, templateRuntime);
        const emptyProjectRuntime = workspace("empty-project-runtime", "bench");
        writeEmptyProgram(emptyProjectRuntime, projectRuntime);
        const programs: Program[] = [
            {
                name: "local",
                description: "this program, stack local",
                workspace: workspace("local", "local"),
                converge: async () => {
                    const stack = await startLocalStack({ workDir: path.join(workDir, "local-world"), binDir, sopsAgeKey: newAgeKey() });
                    try {
                        const up = await stack.pulumi.ok(["up", "--yes", "--skip-preview"], { timeoutSeconds: 1200 });
                        return {
                            workspace: stack.pulumi,
                            note: `converged by one \`up\` (${up.seconds.toFixed(1)} s) against the engine test's world: real kube-apiservers for kind and the management cluster, the real clusterctl and kubectl, kind, docker and the controllers played`,
                            stop: () => stack.world.stop(),
                        };
                    } catch (err) {
                        await stack.world.stop();
                        throw err;
                    }
                },
            },
            { name: "empty", description: "an empty TypeScript program as `pulumi new typescript` makes it (the runtime's bundled ts-node 7.0.1, cached)", workspace: empty, converge: () => convergeOwn(empty) },
            { name: "emptyProjectRuntime", description: "the same empty program with this project's Pulumi.yaml runtime block", workspace: emptyProjectRuntime },
        ];
        const pulumiVersion = execFileSync(path.join(binDir, "pulumi"), ["version"], { encoding: "utf8" }).trim();
        const firsts = new Map<string, { resources: number; diagnostics: string[]; firstPreviewSeconds: number; firstPreviewPeakMemoryMiB: number }>();
        for (const p of programs) {
            await p.workspace.ok(["stack", "init"]);
            // The warm-up (file cache, transform caches), and what the preview shows.
            const first = await measure(p.workspace, ["preview", "--json"]);
            const json = JSON.parse(first.result.stdout) as PreviewJson;
            firsts.set(p.name, {
                resources: json.steps.length,
                diagnostics: (json.diagnostics ?? []).map((d) => `${d.severity}: ${d.message.trim()}`),
                firstPreviewSeconds: Number(first.result.seconds.toFixed(2)),
                firstPreviewPeakMemoryMiB: Number(first.peakMemoryMiB.toFixed(2)),
            });
        }
        const previews = await alternate(new Map(programs.map((p) => [p.name, p.workspace])), ["preview"], log);
        const converged = new Map<string, Converged>();
        try {
            for (const p of programs) {
                if (!p.converge) continue;
                log(`  converging ${p.name} ...`);
                converged.set(p.name, await p.converge());
            }
            const ups = await alternate(new Map([...converged].map(([name, c]) => [name, c.workspace])), ["up", "--yes", "--expect-no-changes"], log);
            return {
                binDir,
                pulumiVersion,
                measuredRuns,
                programs: programs.map((p) => {
                    const preview = summarize(previews.get(p.name)!);
                    const up = ups.get(p.name);
                    return {
                        name: p.name,
                        description: p.description,
                        ...firsts.get(p.name)!,
                        previewSeconds: preview.seconds,
                        previewRuns: preview.runs,
                        previewCpuSeconds: preview.cpuSeconds,
                        peakMemoryMiB: preview.peakMemoryMiB,
                        upNoChange: up && { ...summarize(up), note: converged.get(p.name)!.note },
                    };
                }),
            };
        } finally {
            for (const c of converged.values()) await c.stop();
        }
    } finally {
        fs.rmSync(workDir, { recursive: true, force: true });
    }
}
