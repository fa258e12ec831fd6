// The two tools that cannot run here, `kind` and `docker`, answered by the harness for the thin
// clients in test/real/bin. Output and exit codes are kind's and docker's (the same texts as the fast
// tier's fakes, test/fakes/README.md says where each comes from):
//   kind: one kind cluster, the world's kindClusterName, backed by the `kind` API server. `create cluster` hands out that
//     server's kubeconfig (restarting the server if a delete stopped it); `delete cluster` stops it and
//     wipes its etcd, so the cluster and everything in it are gone, as with kind.
//   docker: `version` and `ps` over the kind node container and the containers CAPD creates; the local
//     fleet source's commands (network inspect, inspect, run, start, exec, rm: a registry container and
//     `flux push artifact` into it) go to the fast tier's docker fake (test/fakes/bin/docker), one model
//     of them for both tiers, over a state file of its own that knows the `kind` network once kind made it.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { Container } from "./controllers";
import { KubeApiServer, kubeconfigFor } from "./kubeApiServer";

// The fast tier's fake world (CommonJS) and docker fake.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { World: FakeWorld } = require("../fakes/world.js") as { World: new (statePath: string) => { st: { docker: { networks?: string[] } }; save(): void } };
const FAST_TIER_DOCKER = path.join(__dirname, "..", "fakes", "bin", "docker");


const KIND_VERSION = "0.29.0";
const DOCKER_VERSION = "28.1.1";
const KIND_NODE_KUBERNETES = "1.33.1";

interface ToolCall {
    tool: string;
    argv: string[];
    cwd: string;
    env: { KUBECONFIG: string; HOME: string };
}

export interface ToolResult {
    stdout: string;
    stderr: string;
    code: number;
}

// Flags with a value (`--name x` and `--name=x`), and the positionals.
function parseArgs(argv: string[], valued: string[]): { pos: string[]; flag(...names: string[]): string | undefined; all(name: string): string[] } {
    const flags: [string, string][] = [];
    const pos: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a.startsWith("-") && a !== "-") {
            const eq = a.indexOf("=");
            if (eq > 0) flags.push([a.slice(0, eq), a.slice(eq + 1)]);
            else flags.push([a, valued.includes(a) ? argv[++i] : "true"]);
        } else pos.push(a);
    }
    return {
        pos,
        flag: (...names) => flags.filter(([n]) => names.includes(n)).map(([, v]) => v).pop(),
        all: (name) => flags.filter(([n]) => n === name).map(([, v]) => v),
    };
}

export class FakeKindAndDocker {
    /** kind clusters that exist: name -> node image. */
    readonly kindClusters = new Map<string, string>();
    /** Every call answered, in order: what ran the tools, e.g. none at preview. */
    readonly calls: { tool: string; argv: string[]; code: number }[] = [];
    private server: http.Server | undefined;
    url = "";

    constructor(
        private readonly kindServer: KubeApiServer,
        private readonly kindClusterName: string,
        private readonly containers: Map<string, Container>,
        /** State file of the registry containers and networks (the fast tier's docker fake keeps them). */
        private readonly registryState: string,
    ) {}

    async listen(): Promise<void> {
        const token = crypto.randomBytes(16).toString("hex");
        this.server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                const answer = async (): Promise<ToolResult> => {
                    if (!req.url?.startsWith(`/${token}/`)) return { stdout: "", stderr: "fake tool: wrong harness token\n", code: 99 };
                    const call = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ToolCall;
                    const result = call.tool === "kind" ? await this.kind(call) : this.docker(call);
                    this.calls.push({ tool: call.tool, argv: call.argv, code: result.code });
                    return result;
                };
                answer()
                    .catch((e: Error) => ({ stdout: "", stderr: `fake tool: harness error: ${e.stack ?? e.message}\n`, code: 99 }))
                    .then((result) => res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(result)));
            });
        });
        await new Promise<void>((resolve, reject) => {
            this.server?.once("error", reject);
            this.server?.listen(0, "127.0.0.1", () => resolve());
        });
        this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}/${token}`;
    }

    async close(): Promise<void> {
        const server = this.server;
        this.server = undefined;
        if (server) {
            await new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            });
        }
    }

    /** The kubeconfig `kind get kubeconfig` prints: contexts named kind-<name>, as kind names them. */
    kindKubeconfig(name: string): string {
        return kubeconfigFor(`kind-${name}`, this.kindServer.url, this.kindServer.caPem, this.kindServer.token);
    }

    private async kind(call: ToolCall): Promise<ToolResult> {
        const args = parseArgs(call.argv, ["--name", "-n", "--image", "--config", "--kubeconfig", "--wait", "-v", "--verbosity"]);
        const [cmd, sub] = args.pos;
        const name = args.flag("--name", "-n") ?? "kind";
        const kubeconfigFlag = args.flag("--kubeconfig");
        if (cmd === "version") return { stdout: `kind v${KIND_VERSION} go1.24.2 linux/amd64\n`, stderr: "", code: 0 };
        if (cmd === "get" && sub === "clusters") {
            const names = [...this.kindClusters.keys()].sort();
            return names.length === 0
                ? { stdout: "", stderr: "No kind clusters found.\n", code: 0 }
                : { stdout: names.map((n) => `${n}\n`).join(""), stderr: "", code: 0 };
        }
        if (cmd === "get" && sub === "kubeconfig") {
            if (!this.kindClusters.has(name)) {
                return { stdout: "", stderr: `ERROR: could not locate any control plane nodes for cluster named '${name}'. Use the --name option to select a different cluster\n`, code: 1 };
            }
            return { stdout: this.kindKubeconfig(name), stderr: "", code: 0 };
        }
        if (cmd === "create" && sub === "cluster") {
            const config = args.flag("--config");
            if (config) {
                const file = path.resolve(call.cwd, config);
                if (!fs.existsSync(file)) return { stdout: "", stderr: `ERROR: failed to create cluster: error reading file: open ${config}: no such file or directory\n`, code: 1 };
                const text = fs.readFileSync(file, "utf8");
                if (!/kind:\s*Cluster/.test(text) || !/apiVersion:\s*kind\.x-k8s\.io\/v1alpha4/.test(text)) {
                    return { stdout: "", stderr: `ERROR: failed to create cluster: error parsing config file ${config}: unknown kind or apiVersion\n`, code: 1 };
                }
            }
            if (this.kindClusters.has(name)) {
                return { stdout: "", stderr: `ERROR: failed to create cluster: node(s) already exist for a cluster with the name "${name}"\n`, code: 1 };
            }
            if (name !== this.kindClusterName) {
                return { stdout: "", stderr: `fake kind: this world has one kind cluster, '${this.kindClusterName}' (asked to create '${name}')\n`, code: 99 };
            }
            const image = args.flag("--image") ?? `kindest/node:v${KIND_NODE_KUBERNETES}`;
            let stderr = `Creating cluster "${name}" ...\n ✓ Ensuring node image (${image}) 🖼\n ✓ Preparing nodes 📦\n ✓ Writing configuration 📜\n`;
            await this.kindServer.resume();
            this.kindClusters.set(name, image);
            this.containers.set(`${name}-control-plane`, {
                id: crypto.randomBytes(6).toString("hex"),
                name: `${name}-control-plane`,
                image,
                labels: { "io.x-k8s.kind.cluster": name, "io.x-k8s.kind.role": "control-plane" },
            });
            const target = kubeconfigFlag ? path.resolve(call.cwd, kubeconfigFlag) : call.env.KUBECONFIG || path.join(call.env.HOME, ".kube", "config");
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, this.kindKubeconfig(name), { mode: 0o600 });
            stderr += " ✓ Starting control-plane 🕹️\n ✓ Installing CNI 🔌\n ✓ Installing StorageClass 💾\n";
            const wait = args.flag("--wait");
            if (wait) stderr += ` ✓ Waiting ≤ ${wait} for control-plane = Ready ⏳\n • Ready after 15s 💚\n`;
            stderr += `Set kubectl context to "kind-${name}"\nYou can now use your cluster with:\n\nkubectl cluster-info --context kind-${name}${kubeconfigFlag ? ` --kubeconfig ${kubeconfigFlag}` : ""}\n\nHave a nice day! 👋\n`;
            return { stdout: "", stderr, code: 0 };
        }
        if (cmd === "delete" && sub === "cluster") {
            let stderr = `Deleting cluster "${name}" ...\n`;
            if (this.kindClusters.has(name)) {
                await this.kindServer.halt();
                this.kindClusters.delete(name);
                for (const [n, c] of this.containers) if (c.labels["io.x-k8s.kind.cluster"] === name) this.containers.delete(n);
                stderr += `Deleted nodes: ["${name}-control-plane"]\n`;
            }
            return { stdout: "", stderr, code: 0 };
        }
        return { stdout: "", stderr: `ERROR: unknown command "${args.pos.join(" ")}" for "kind" (the fake answers version, get clusters, get kubeconfig, create cluster, delete cluster)\n`, code: 1 };
    }

    /** The fleet source's docker commands, answered by the fast tier's fake over its own state file. */
    private registryDocker(call: ToolCall): ToolResult {
        // kind creates the `kind` network with its first cluster and never deletes it.
        const world = new FakeWorld(this.registryState);
        if (this.kindClusters.size > 0 && !(world.st.docker.networks ?? []).includes("kind")) {
            world.st.docker.networks = [...(world.st.docker.networks ?? []), "kind"];
            world.save();
        }
        try {
            const stdout = execFileSync(process.execPath, [FAST_TIER_DOCKER, ...call.argv], {
                cwd: call.cwd,
                env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: call.env.HOME, FAKE_STATE: this.registryState },
                encoding: "utf8",
                stdio: ["ignore", "pipe", "pipe"],
            });
            return { stdout, stderr: "", code: 0 };
        } catch (e) {
            const err = e as { stdout?: string; stderr?: string; status?: number };
            return { stdout: err.stdout ?? "", stderr: err.stderr ?? "", code: err.status ?? 1 };
        }
    }

    private docker(call: ToolCall): ToolResult {
        if (["network", "inspect", "run", "start", "exec", "rm"].includes(call.argv.find((a) => !a.startsWith("-")) ?? "")) return this.registryDocker(call);
        const args = parseArgs(call.argv, ["--format", "-f", "--filter"]);
        const cmd = args.pos[0];
        if (cmd === "version") {
            const format = args.flag("--format", "-f");
            if (format) return { stdout: `${fill(format, { Client: { Version: DOCKER_VERSION }, Server: { Version: DOCKER_VERSION } })}\n`, stderr: "", code: 0 };
            return {
                stdout: `Client: Docker Engine - Community\n Version:           ${DOCKER_VERSION}\n API version:       1.49\n\nServer: Docker Engine - Community\n Engine:\n  Version:          ${DOCKER_VERSION}\n  API version:      1.49 (minimum version 1.24)\n`,
                stderr: "",
                code: 0,
            };
        }
        if (cmd === "ps") {
            let listed = [...this.containers.values()];
            for (const filter of args.all("--filter")) {
                const label = /^label=([^=]+)(?:=(.*))?$/.exec(filter);
                if (label) listed = listed.filter((c) => (label[2] === undefined ? label[1] in c.labels : c.labels[label[1]] === label[2]));
                const byName = /^name=(.*)$/.exec(filter);
                if (byName) listed = listed.filter((c) => c.name.includes(byName[1]));
            }
            if (args.flag("-q", "--quiet")) return { stdout: listed.map((c) => `${c.id}\n`).join(""), stderr: "", code: 0 };
            const format = args.flag("--format");
            const fields = (c: Container) => ({ ID: c.id, Names: c.name, Image: c.image, Status: "Up 2 minutes", Labels: Object.entries(c.labels).map(([k, v]) => `${k}=${v}`).join(",") });
            if (format) return { stdout: listed.map((c) => `${fill(format, fields(c))}\n`).join(""), stderr: "", code: 0 };
            const header = "CONTAINER ID   IMAGE                         COMMAND                  CREATED         STATUS         PORTS     NAMES\n";
            return { stdout: header + listed.map((c) => `${c.id}   ${c.image.padEnd(29)} "/usr/local/bin/entr…"   2 minutes ago   Up 2 minutes             ${c.name}\n`).join(""), stderr: "", code: 0 };
        }
        return { stdout: "", stderr: `docker: '${cmd}' is not a docker command the fake answers (version, ps).\n`, code: 1 };
    }
}

// A Go template of the fields docker offers ({{.Names}}, {{.Server.Version}}, \t).
function fill(template: string, fields: Record<string, unknown>): string {
    return template.replace(/\\t/g, "\t").replace(/\{\{\s*\.([A-Za-z.]+)\s*\}\}/g, (_, key: string) => {
        const value = key.split(".").reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), fields);
        return value === undefined ? "" : String(value);
    });
}
