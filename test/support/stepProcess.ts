// One step script as the program runs it (lib.sh + <step>.sh through `bash -c`), in its own process
// group so that a test can kill it with everything it started, as an interrupted `pulumi up` would.
import { ChildProcess, spawn } from "node:child_process";
import { StepName, stepScript } from "../../render/steps";

export interface StepProcessResult {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    ms: number;
}

export interface StepProcessOptions {
    stdin?: string;
    /** Kill the step after this long (a hung step fails the test instead of stalling it). */
    guardMs?: number;
    onStderr?(chunk: Buffer): void;
    /** Called once the step runs, with its process. */
    started?(child: ChildProcess): void;
}

/** Kills a step and everything it started (its process group). */
export function killStep(child: ChildProcess): void {
    try {
        process.kill(-(child.pid as number), "SIGKILL");
    } catch {
        /* already gone */
    }
}

export function spawnStep(step: StepName, env: Record<string, string>, opts: StepProcessOptions = {}): Promise<StepProcessResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn("/bin/bash", ["-c", stepScript(step)], { env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => {
            stderr += d.toString();
            opts.onStderr?.(d);
        });
        const guard = opts.guardMs === undefined ? undefined : setTimeout(() => killStep(child), opts.guardMs);
        child.on("error", reject);
        child.on("close", (code, signal) => {
            clearTimeout(guard);
            resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.stdin ?? "");
        opts.started?.(child);
    });
}
