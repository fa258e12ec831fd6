// How long a test waits for one thing. Tests have no per-test timeout (a loaded machine must not fail
// correct code): each wait is for an event, bounded generously so that only a hang reaches the bound,
// and reaching it fails the test naming what it waited for and what it saw last.
import { SpawnSyncOptionsWithStringEncoding, SpawnSyncReturns, spawnSync } from "node:child_process";

/** The bound of one wait: 10 minutes, or FLEET_TEST_WAIT_BOUND_SECONDS. */
export function waitBoundMs(): number {
    const configured = process.env.FLEET_TEST_WAIT_BOUND_SECONDS;
    if (configured === undefined || configured === "") return 600_000;
    if (!/^[1-9][0-9]*$/.test(configured)) throw new Error(`FLEET_TEST_WAIT_BOUND_SECONDS must be a whole number of seconds above 0, got '${configured}'`);
    return Number(configured) * 1000;
}

/** The last `lines` lines of a process's output, for a failure message. */
export function outputTail(text: string, lines = 20): string {
    return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The error of a wait that reached its bound. */
export function boundReached(what: string, boundMs: number, lastSeen: string): Error {
    return new Error(`${what}: not finished after ${boundMs / 1000} s (the bound of this wait; FLEET_TEST_WAIT_BOUND_SECONDS raises it); last seen:\n${lastSeen}`);
}

/**
 * Polls `probe` every half second until it returns a value (a probe that throws counts as not yet), bounded
 * by waitBoundMs(): reaching the bound fails naming `what` and `lastSeen()`.
 */
export async function pollUntil<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, lastSeen: () => string): Promise<T> {
    const boundMs = waitBoundMs();
    const deadline = Date.now() + boundMs;
    for (;;) {
        const value = await Promise.resolve()
            .then(probe)
            .catch(() => undefined);
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw boundReached(what, boundMs, lastSeen());
        await new Promise((r) => setTimeout(r, 500));
    }
}

/**
 * spawnSync bounded by waitBoundMs(): a process still running at the bound is killed and the test fails
 * naming `what` and the end of its output; a process that cannot start fails the test too.
 */
export function runSync(what: string, file: string, args: string[], options: Omit<SpawnSyncOptionsWithStringEncoding, "encoding" | "timeout"> = {}): SpawnSyncReturns<string> {
    const boundMs = waitBoundMs();
    const result = spawnSync(file, args, { maxBuffer: 64 * 1024 * 1024, ...options, encoding: "utf8", timeout: boundMs, killSignal: "SIGKILL" });
    const error = result.error as NodeJS.ErrnoException | undefined;
    if (error?.code === "ETIMEDOUT") throw boundReached(what, boundMs, outputTail(`${result.stdout ?? ""}\n${result.stderr ?? ""}`));
    if (error) throw new Error(`${what}: ${file} could not run: ${error.message}`);
    return result;
}
