// A step as the program's Command runs it: its one-line command through `bash -c`, the script in
// FLEET_STEP_SCRIPT, in its own process group so that a test can kill it with everything it started, as
// an interrupted `pulumi up` would. Shared by the fast tier (test/steps) and the real-world tier (test/real).
import { ChildProcess, spawn } from "node:child_process";
import { STEP_COMMANDS, StepName, stepScript } from "../../render/steps";
import { boundReached, outputTail, waitBoundMs } from "./bounds";

export interface StepProcessResult {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** stdout and stderr interleaved as they came, as the engine shows a failed command's output. */
    output: string;
    ms: number;
}

export interface StepProcessOptions {
    stdin?: string;
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

/**
 * Runs a command line with /bin/bash -c, as @pulumi/command does. A command still running after
 * waitBoundMs() is killed and fails the test as hung, with the end of its output.
 */
export function spawnCommand(commandLine: string, env: Record<string, string>, opts: StepProcessOptions = {}): Promise<StepProcessResult> {
    const started = Date.now();
    const boundMs = waitBoundMs();
    return new Promise((resolve, reject) => {
        const child = spawn("/bin/bash", ["-c", commandLine], { env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let output = "";
        child.stdout.on("data", (d: Buffer) => {
            stdout += d.toString();
            output += d.toString();
        });
        child.stderr.on("data", (d: Buffer) => {
            stderr += d.toString();
            output += d.toString();
            opts.onStderr?.(d);
        });
        let hung = false;
        const bound = setTimeout(() => {
            hung = true;
            killStep(child);
        }, boundMs);
        child.on("error", reject);
        child.on("close", (code, signal) => {
            clearTimeout(bound);
            if (hung) reject(boundReached(`the step ${env.FLEET_STEP ?? commandLine}`, boundMs, outputTail(output)));
            else resolve({ code, signal, stdout, stderr, output, ms: Date.now() - started });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.stdin ?? "");
        opts.started?.(child);
    });
}

/** Creates a step as its Command does: STEP_COMMANDS.create with the script in FLEET_STEP_SCRIPT. */
export function spawnStep(step: StepName, env: Record<string, string>, opts: StepProcessOptions = {}): Promise<StepProcessResult> {
    return spawnCommand(STEP_COMMANDS.create, { ...env, FLEET_STEP: step, FLEET_STEP_SCRIPT: stepScript(step) }, opts);
}
