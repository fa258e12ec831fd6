// The table of step durations, read from docs/step-durations.md (the documented figures, each with
// its source, are the bench's only input for the critical path: edit the document, not the code).
import * as fs from "fs";
import * as path from "path";

export type DurationKind = "typical" | "estimate" | "program";

export interface Duration {
    key: string;
    step: string;
    seconds: number;
    kind: DurationKind;
    source: string;
}

export const durationsFile = path.resolve(__dirname, "..", "..", "docs", "step-durations.md");

const kinds: readonly DurationKind[] = ["typical", "estimate", "program"];

/** Rows of the Markdown table whose first cell is a backticked key: | `key` | step | seconds | kind | source |. */
export function parseDurations(markdown: string, origin = "step durations"): Map<string, Duration> {
    const table = new Map<string, Duration>();
    markdown.split("\n").forEach((line, index) => {
        const cells = line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
        const key = /^`([a-z0-9-]+)`$/.exec(cells[0] ?? "")?.[1];
        if (!key || cells.length < 5) return;
        const where = `${origin}:${index + 1}`;
        const seconds = Number(cells[2]);
        if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`${where}: ${key}: seconds ${JSON.stringify(cells[2])} is not a non-negative number`);
        const kind = cells[3] as DurationKind;
        if (!kinds.includes(kind)) throw new Error(`${where}: ${key}: kind ${JSON.stringify(cells[3])}; expected one of ${kinds.join(", ")}`);
        const source = cells.slice(4).join("|").trim();
        if (!source) throw new Error(`${where}: ${key}: every figure needs a source`);
        if (table.has(key)) throw new Error(`${where}: ${key} appears twice`);
        table.set(key, { key, step: cells[1], seconds, kind, source });
    });
    return table;
}

export function loadDurations(file = durationsFile): Map<string, Duration> {
    return parseDurations(fs.readFileSync(file, "utf8"), path.relative(process.cwd(), file));
}
