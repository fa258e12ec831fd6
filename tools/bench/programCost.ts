// One program-cost case, run in its own process (so that its peak memory is its own): the offline plan
// (the real program under Pulumi's mocks, as `npm run plan` runs it), which renders the fleet repository
// for its drift check and returns that render, for a generated environment, against the floor of
// serializing the same objects with js-yaml alone.
import * as fs from "fs";
import * as inspector from "inspector";
import { performance } from "perf_hooks";
import * as yaml from "js-yaml";
import { fleetOverrides } from "./fleet";

export interface CaseResult {
    clusters: number;
    modules: number;
    /** Pulumi resources the program registered. */
    resources: number;
    /** Kubernetes objects the plan would apply (every target) plus the objects of the fleet repository. */
    objects: number;
    manifestObjects: number;
    fleetRepositoryFiles: number;
    fleetRepositoryObjects: number;
    /** Importing the planner (TypeScript transpiled by tsx on first load). */
    moduleLoadSeconds: number;
    /** The first plan + render in the process (the program's modules load and JIT-compile here). */
    firstRunSeconds: number;
    /** Process start to the end of the first plan + render: what `npm run plan` costs cold, its render included. */
    coldSeconds: number;
    /** Plan + render again in the same process (best of the warm runs): the program's own cost. */
    warmSeconds: number;
    /** CPU time (user + system, all threads) of the same warm plan + render, best of the warm runs: unlike
     * wall time it does not grow when other processes compete for the cores. */
    warmCpuSeconds: number;
    /** The same environment with one workload cluster, run alternately with the case in the same process (best). */
    baseWarmSeconds: number;
    baseWarmCpuSeconds: number;
    /** js-yaml `dump` of every one of the same objects (best of five). */
    floorSeconds: number;
    peakMemoryMiB: number;
}

/** Warm runs: at least 3, more while they take under 3 s in total (small cases), at most 12; the best counts. */
const warmRuns = { min: 3, max: 12, budgetSeconds: 3 };
const floorRuns = 5;
/** The dump options the project uses (render/yaml.ts), so that the floor writes the same text. */
const dumpOptions: yaml.DumpOptions = { lineWidth: -1, noRefs: true, sortKeys: false };

const seconds = (from: number, to: number) => (to - from) / 1000;

function post<T>(session: inspector.Session, method: string): Promise<T> {
    return new Promise((resolve, reject) => session.post(method, (err, result) => (err ? reject(err) : resolve(result as T))));
}

/** CPU profile (V8 .cpuprofile) of one more warm plan + render, written to `file`. */
async function profileOnce(file: string, run: () => Promise<unknown>): Promise<void> {
    const session = new inspector.Session();
    session.connect();
    try {
        await post(session, "Profiler.enable");
        await post(session, "Profiler.start");
        await run();
        const { profile } = await post<{ profile: unknown }>(session, "Profiler.stop");
        fs.writeFileSync(file, JSON.stringify(profile));
    } finally {
        session.disconnect();
    }
}

export async function runCase(clusters: number, modules: number, profileFile?: string): Promise<CaseResult> {
    const overrides = fleetOverrides(clusters, modules);
    const loadStart = performance.now();
    const { planStack } = await import("../planner");
    const loadEnd = performance.now();

    const baseOverrides = fleetOverrides(1, modules);
    // Plan + render: the plan's result holds the render its drift check made, so it is counted once.
    const once = async (config = overrides) => {
        const cpu = process.cpuUsage();
        const a = performance.now();
        const result = await planStack({ stack: "local", overrides: config });
        if (!result.ok) throw new Error(`the generated configuration is invalid:\n  ${result.errors.join("\n  ")}`);
        const b = performance.now();
        const used = process.cpuUsage(cpu);
        return { plan: result.plan, wallSeconds: seconds(a, b), cpuSeconds: (used.user + used.system) / 1e6 };
    };

    const first = await once();
    const coldEnd = performance.now();
    // Warm runs, each followed (N > 1) by a run of the same environment with one cluster: the marginal cost
    // per cluster is then a difference of two minima taken in the same process at the same time, which
    // other load on the machine shifts far less than a difference across processes.
    let best = Infinity;
    let bestCpu = Infinity;
    let baseWall = Infinity;
    let baseCpu = Infinity;
    let last = first;
    let spent = 0;
    for (let i = 0; i < warmRuns.max && (i < warmRuns.min || spent < warmRuns.budgetSeconds); i++) {
        last = await once();
        spent += last.wallSeconds;
        best = Math.min(best, last.wallSeconds);
        bestCpu = Math.min(bestCpu, last.cpuSeconds);
        if (clusters > 1) {
            const base = await once(baseOverrides);
            spent += base.wallSeconds;
            baseWall = Math.min(baseWall, base.wallSeconds);
            baseCpu = Math.min(baseCpu, base.cpuSeconds);
        }
    }
    if (clusters === 1) {
        baseWall = best;
        baseCpu = bestCpu;
    }

    if (profileFile) await profileOnce(profileFile, () => once());

    // The same objects, outside the timed region: what the plan would apply and what the repository holds.
    const manifestObjects = [...last.plan.manifests.values()].flat();
    const fleetObjects = [...last.plan.fleetRepository.values()].flatMap((text) => yaml.loadAll(text).filter((d) => d !== null && d !== undefined));
    const objects: unknown[] = [...manifestObjects, ...fleetObjects];
    let floor = Infinity;
    for (let i = 0; i < floorRuns; i++) {
        const a = performance.now();
        let bytes = 0;
        for (const object of objects) bytes += yaml.dump(object, dumpOptions).length;
        const b = performance.now();
        if (bytes === 0 && objects.length > 0) throw new Error("the floor serialized nothing");
        floor = Math.min(floor, seconds(a, b));
    }

    return {
        clusters,
        modules,
        resources: last.plan.resources.length,
        objects: objects.length,
        manifestObjects: manifestObjects.length,
        fleetRepositoryFiles: last.plan.fleetRepository.size,
        fleetRepositoryObjects: fleetObjects.length,
        moduleLoadSeconds: seconds(loadStart, loadEnd),
        firstRunSeconds: first.wallSeconds,
        // performance.now() counts from the process's time origin, i.e. its start.
        coldSeconds: seconds(0, coldEnd),
        warmSeconds: best,
        warmCpuSeconds: bestCpu,
        baseWarmSeconds: baseWall,
        baseWarmCpuSeconds: baseCpu,
        floorSeconds: floor,
        peakMemoryMiB: process.resourceUsage().maxRSS / 1024,
    };
}
