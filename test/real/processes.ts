// The processes the real-world tiers start (API servers, registries, controllers), supervised: each is
// stopped by stopProcess(), on this process's exit or interrupt, and by its supervisor when this process
// dies without cleaning up (kill -9), so a run leaves no process or port behind.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";

const children = new Set<ChildProcess>();
let exitHooksInstalled = false;

function installExitHooks(): void {
    if (exitHooksInstalled) return;
    exitHooksInstalled = true;
    // Synchronous last resort: the supervisors stop their process when it gets SIGTERM.
    process.on("exit", () => {
        for (const child of children) child.kill("SIGTERM");
    });
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => {
            for (const child of children) child.kill("SIGTERM");
            process.exit(130);
        });
    }
}

export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

// The supervisor runs the server in the background, stops it on SIGTERM, and stops it when the node
// process that started it is gone (so a killed test run leaves nothing behind).
const SUPERVISOR = [
    "set -u",
    'owner=$1; log=$2; shift 2',
    '"$@" >>"$log" 2>&1 & child=$!',
    'trap \'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0\' TERM INT',
    'while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1 & wait $!; done',
    'kill -TERM "$child" 2>/dev/null; wait "$child"',
].join("\n");

export function supervise(logFile: string, argv: string[], env?: NodeJS.ProcessEnv): ChildProcess {
    installExitHooks();
    const child = spawn("bash", ["-c", SUPERVISOR, "supervisor", String(process.pid), logFile, ...argv], { stdio: "ignore", env: env ?? process.env });
    children.add(child);
    child.on("exit", () => children.delete(child));
    return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
}

export function tail(file: string, lines = 15): string {
    try {
        return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

export async function waitFor(what: string, logFile: string, timeoutMs: number, probe: () => Promise<boolean>, child: ChildProcess): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`${what} exited (code ${child.exitCode}); last lines of ${logFile}:\n${tail(logFile)}`);
        if (await probe()) return;
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${what} was not ready after ${timeoutMs / 1000} s; last lines of ${logFile}:\n${tail(logFile)}`);
}


/**
 * `argv` in a mount namespace of its own where /etc/hosts is `hostsFile`: the names the fleet's Git render
 * names (its registry container, ghcr.io) resolve to 127.0.0.1 for that process alone. The programs the
 * tiers run this way are pure Go (CGO off), whose resolver reads /etc/hosts. Same pid (unshare and bash exec).
 */
export function withHosts(hostsFile: string, argv: string[]): string[] {
    return ["unshare", "--mount", "--propagation", "private", "bash", "-c", 'mount --bind "$1" /etc/hosts && shift && exec "$@"', "with-hosts", hostsFile, ...argv];
}
