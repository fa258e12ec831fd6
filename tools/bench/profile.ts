// Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function and per file, so that a
// missed target can be traced to the code that spends the time.
import * as fs from "fs";
import * as path from "path";

interface ProfileNode {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
}

interface CpuProfile {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
    startTime: number;
    endTime: number;
}

export interface HotSpot {
    name: string;
    where: string;
    selfMs: number;
    share: number;
}

function shortUrl(url: string, root: string): string {
    const file = url.startsWith("file://") ? url.slice("file://".length) : url;
    if (!file) return "(native)";
    const relative = path.relative(root, file);
    return relative.startsWith("..") ? file : relative;
}

/** Self time per function (top `limit`) and per file, in milliseconds. */
export function summarizeProfile(file: string, root: string, limit = 15): { totalMs: number; functions: HotSpot[]; files: HotSpot[] } {
    const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfUs = new Map<number, number>();
    // The first delta is the gap between the profiler's start and its first sample, not work.
    let totalUs = 0;
    profile.samples.forEach((id, i) => {
        const us = i === 0 ? 0 : (profile.timeDeltas[i] ?? 0);
        totalUs += us;
        selfUs.set(id, (selfUs.get(id) ?? 0) + us);
    });
    const fn = new Map<string, HotSpot>();
    const files = new Map<string, HotSpot>();
    for (const [id, us] of selfUs) {
        const frame = byId.get(id)!.callFrame;
        const where = shortUrl(frame.url, root);
        const name = frame.functionName || "(anonymous)";
        const key = `${name}@${where}:${frame.lineNumber + 1}`;
        const f = fn.get(key) ?? { name, where: frame.url ? `${where}:${frame.lineNumber + 1}` : where, selfMs: 0, share: 0 };
        f.selfMs += us / 1000;
        fn.set(key, f);
        const g = files.get(where) ?? { name: where, where, selfMs: 0, share: 0 };
        g.selfMs += us / 1000;
        files.set(where, g);
    }
    const finish = (list: HotSpot[]) =>
        list
            .sort((a, b) => b.selfMs - a.selfMs)
            .slice(0, limit)
            .map((h) => ({ ...h, share: totalUs > 0 ? h.selfMs / (totalUs / 1000) : 0 }));
    return { totalMs: totalUs / 1000, functions: finish([...fn.values()]), files: finish([...files.values()]) };
}
