// Peak resident memory of a process tree, sampled from /proc: the sum of the RSS of every descendant of
// a process (here: pulumi, its language host, node, the plugins), the figure a machine running
// `pulumi preview` has to have free. /usr/bin/time reports only the largest single process.
import * as fs from "fs";

const pageBytes = 4096;
const clockTicksPerSecond = 100;

function read(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return undefined; // the process ended between listing and reading
    }
}

function children(pid: number): number[] {
    let tasks: string[] = [];
    try {
        tasks = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
        return [];
    }
    // Go programs start children from any thread, so every task counts.
    return tasks.flatMap((task) => (read(`/proc/${pid}/task/${task}/children`) ?? "").split(" ").filter(Boolean).map(Number));
}

/** Every descendant of `root` (not `root` itself), except the subtrees of `exclude`. */
function descendants(root: number, exclude: number[] = []): number[] {
    const found: number[] = [];
    const queue = [root];
    while (queue.length > 0) {
        const pid = queue.pop() as number;
        for (const child of children(pid)) {
            if (!found.includes(child) && !exclude.includes(child)) {
                found.push(child);
                queue.push(child);
            }
        }
    }
    return found;
}

function rssBytes(pid: number): number {
    const statm = read(`/proc/${pid}/statm`);
    return statm ? Number(statm.split(" ")[1]) * pageBytes : 0;
}

/** Samples the processes `root` starts from now on (with their descendants) every `intervalMs` until
 * stopped; stop() returns the peak sum in MiB. Children `root` already has (tsx's esbuild service) are left out. */
export function sampleTreeMemory(root: number, intervalMs = 50): { stop(): number } {
    const before = children(root);
    let peak = 0;
    const sample = () => {
        peak = Math.max(peak, descendants(root, before).reduce((sum, pid) => sum + rssBytes(pid), 0));
    };
    const timer = setInterval(sample, intervalMs);
    return {
        stop() {
            clearInterval(timer);
            sample();
            return peak / 1024 ** 2;
        },
    };
}

/** CPU time (user + system) of this process's children that ended and were waited for, with their own
 * waited-for descendants: around one command, the CPU the whole tree used, which, unlike wall time, other
 * load on the machine barely changes. */
export function endedChildrenCpuSeconds(): number {
    const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    // cutime and cstime: fields 16 and 17 of proc(5), counted from the state field (3).
    return (Number(fields[13]) + Number(fields[14])) / clockTicksPerSecond;
}
