// The real Pulumi engine on this project, for the engine tests: a copy of the project in a temporary
// directory (so `stack init` and config changes never touch the checkout), a file backend there, a
// generated passphrase, its own PULUMI_HOME, and the plugins picked up from PATH (ambient plugins):
// nothing is downloaded. Commands run asynchronously, so a harness in this process can keep playing
// controllers while the engine works.
import { execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export const REPO = path.resolve(__dirname, "..", "..");

/** The engine tools (scripts/engine-tools.sh builds them, or reuses a complete build in about a second). */
export function engineToolsBinDir(): string {
    let out: string;
    try {
        out = execFileSync("bash", [path.join(REPO, "scripts", "engine-tools.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    } catch {
        throw new Error("the engine tools are not available and could not be built: run `bash scripts/engine-tools.sh` and read its error");
    }
    return out.trim().split("\n").pop() as string;
}

/** The lowest CLI version the tests accept: the engine of the npm SDK this project pins. */
const MIN_PULUMI = [3, 248, 0];

/**
 * The directory of the `pulumi` CLI the tests run: one already on PATH at a suitable version (a user's
 * machine), else the one scripts/engine-tools.sh built. The plugins always come from the engine tools,
 * so they match the npm SDKs exactly.
 */
export function pulumiCliDir(binDir: string): { dir: string; version: string; fromPath: boolean } {
    const built = path.join(binDir, "pulumi");
    for (const dir of (process.env.PATH ?? "").split(":")) {
        const candidate = path.join(dir, "pulumi");
        if (!dir || !fs.existsSync(candidate) || fs.realpathSync(candidate) === fs.realpathSync(built)) continue;
        try {
            const version = execFileSync(candidate, ["version"], { encoding: "utf8", timeout: 30_000 }).trim();
            const parts = version.replace(/^v/, "").split(/[.-]/).map(Number);
            const suitable = parts[0] === MIN_PULUMI[0] && (parts[1] > MIN_PULUMI[1] || (parts[1] === MIN_PULUMI[1] && parts[2] >= MIN_PULUMI[2]));
            if (suitable) return { dir, version, fromPath: true };
        } catch {
            // Not a working CLI: fall through to the built one.
        }
    }
    return { dir: binDir, version: execFileSync(built, ["version"], { encoding: "utf8" }).trim(), fromPath: false };
}

export interface CommandResult {
    args: string[];
    code: number | null;
    stdout: string;
    stderr: string;
    seconds: number;
}

export interface PulumiWorkspaceOptions {
    workDir: string;
    binDir: string;
    stack: string;
    /** Directories put first on PATH (fakes). */
    pathFirst?: string[];
    env?: Record<string, string>;
}

// What the project needs at run time; tests, tools and the Git render stay behind.
const PROJECT_ENTRIES = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "runtime", "components", "stacks", "render", "steps", "clusters"];

export class PulumiWorkspace {
    readonly projectDir: string;
    readonly stateDir: string;
    readonly env: Record<string, string>;
    readonly passphrase = crypto.randomBytes(24).toString("hex");
    readonly cli: { dir: string; version: string; fromPath: boolean };

    constructor(private readonly options: PulumiWorkspaceOptions) {
        const { workDir, binDir, stack } = options;
        this.projectDir = path.join(workDir, "project");
        this.stateDir = path.join(workDir, "state");
        for (const dir of [this.projectDir, this.stateDir, path.join(workDir, "home"), path.join(workDir, "pulumi-home")]) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        for (const entry of [...PROJECT_ENTRIES, `Pulumi.${stack}.yaml`]) {
            if (fs.existsSync(path.join(REPO, entry))) fs.cpSync(path.join(REPO, entry), path.join(this.projectDir, entry), { recursive: true });
        }
        fs.symlinkSync(path.join(REPO, "node_modules"), path.join(this.projectDir, "node_modules"));
        this.cli = pulumiCliDir(binDir);
        this.env = {
            PATH: [...(options.pathFirst ?? []), this.cli.dir, binDir, path.dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
            HOME: path.join(workDir, "home"),
            PULUMI_HOME: path.join(workDir, "pulumi-home"),
            PULUMI_BACKEND_URL: `file://${this.stateDir}`,
            PULUMI_CONFIG_PASSPHRASE: this.passphrase,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            FLEET_STATE_DIR: path.join(workDir, "fleet-state"),
            LANG: "C.UTF-8",
            ...(options.env ?? {}),
        };
    }

    /** Runs `pulumi ARGS -s STACK` in the project copy; never throws (the result says how it ended). */
    run(args: string[], opts: { stdin?: string; timeoutSeconds?: number } = {}): Promise<CommandResult> {
        const fullArgs = [...args, "--stack", this.options.stack, "--non-interactive", "--color", "never"];
        const started = Date.now();
        return new Promise((resolve) => {
            // Its own process group: a timeout or an interrupt of the test stops the engine, its plugins and
            // the step it runs, not only the CLI.
            const child = spawn("pulumi", fullArgs, { cwd: this.projectDir, env: this.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
            const stopGroup = () => {
                try {
                    process.kill(-(child.pid as number), "SIGTERM");
                } catch {
                    // already gone
                }
            };
            process.once("exit", stopGroup);
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            const boundSeconds = opts.timeoutSeconds ?? 900;
            let hung = false;
            const timer = setTimeout(() => {
                hung = true;
                stopGroup();
            }, boundSeconds * 1000);
            child.on("close", (code) => {
                clearTimeout(timer);
                if (hung) stderr += `\n[engine test] stopped: pulumi ${args.join(" ")} had not finished after ${boundSeconds} s, the bound of this wait\n`;
                process.removeListener("exit", stopGroup);
                resolve({ args: fullArgs, code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
            });
            child.stdin.end(opts.stdin ?? "");
        });
    }

    /** Like run(), but throws with the engine's output when the command fails. */
    async ok(args: string[], opts: { stdin?: string; timeoutSeconds?: number } = {}): Promise<CommandResult> {
        const result = await this.run(args, opts);
        if (result.code !== 0) throw new Error(`pulumi ${result.args.join(" ")} exited ${result.code} after ${result.seconds} s:\n${result.stdout.slice(-6000)}\n${result.stderr.slice(-4000)}`);
        return result;
    }
}
