// The "real world" of the engine test tier: the real clusterctl and kubectl against two real
// kube-apiservers, one standing in for the temporary kind cluster and one for the permanent
// management cluster, with the harness playing what cannot run here: the controllers
// (test/real/controllers.ts), the providers' webhooks (test/real/webhooks.ts), and the `kind` and
// `docker` CLIs (test/real/fakeTools.ts). clusterctl installs providers from a local repository
// built offline (scripts/clusterctl-repository.sh).
// All of that answers from this process's event loop: run `pulumi`, step scripts and clusterctl
// asynchronously (spawn/execFile), never with execFileSync/spawnSync, or every webhook call, kind
// invocation and reconcile waits until they time out.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Container, Controllers } from "./controllers";
import { FakeKindAndDocker } from "./fakeTools";
import { KubeApiServer, startKubeApiServer } from "./kubeApiServer";
import { WebhookServer, startWebhookServer } from "./webhooks";

const REPO = path.resolve(__dirname, "..", "..");
/** The fake kind and docker, which the world's PATH puts first. */
export const FAKE_BIN = path.join(__dirname, "bin");
/** The real tools the tier runs, all built by scripts/engine-tools.sh. */
export const REAL_TOOLS = ["etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "clusterctl", "kustomize"];

export interface RealWorld {
    kind: KubeApiServer; // stands in for the kind cluster's API
    permanent: KubeApiServer; // stands in for the management cluster's API
    env: Record<string, string>; // PATH (fake kind/docker first, then the real tools), XDG_CONFIG_HOME, CLUSTERCTL_DISABLE_VERSIONCHECK=true, HOME, REAL_WORLD_TOOLS
    stop(): Promise<void>; // stops controllers, servers, everything; idempotent
    /** The clusterctl local repository (file://), with its clusterctl.yaml. */
    repository: string;
    controllers: Controllers;
    webhooks: WebhookServer;
    /** The fake kind (its clusters) and docker (its containers, CAPD's among them). */
    tools: FakeKindAndDocker;
    containers: Map<string, Container>;
}

export interface RealWorldOptions {
    workDir: string;
    binDir: string;
    managementClusterName: string;
    namespace: string;
    kindClusterName: string;
}

/** Where scripts/engine-tools.sh puts the tools (the directory it prints), found without building anything. */
export function engineToolsBin(): string {
    const cache = process.env.FLEET_ENGINE_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "fleet-bootstrap", "engine-tools");
    return path.join(cache, "bin");
}

/** Fails with what to run when the engine tools are not built (the tier never skips). */
export function requireRealTools(binDir: string): void {
    const missing = REAL_TOOLS.filter((t) => !fs.existsSync(path.join(binDir, t)));
    if (missing.length > 0) {
        throw new Error(`the real-world tier needs ${missing.join(", ")} in ${binDir}: build them with \`bash scripts/engine-tools.sh\` (it prints the bin directory; ~35 minutes cold)`);
    }
}

/** scripts/clusterctl-repository.sh: the local repository directory (built on first use, then cached). */
export function clusterctlRepository(binDir: string): string {
    const out = execFileSync("bash", [path.join(REPO, "scripts", "clusterctl-repository.sh"), binDir], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    return out.trim().split("\n").pop() as string;
}

export async function startRealWorld(opts: RealWorldOptions): Promise<RealWorld> {
    requireRealTools(opts.binDir);
    const repository = clusterctlRepository(opts.binDir);
    fs.mkdirSync(opts.workDir, { recursive: true, mode: 0o700 });
    const home = path.join(opts.workDir, "home");
    const xdg = path.join(opts.workDir, "xdg");
    fs.mkdirSync(path.join(xdg, "cluster-api"), { recursive: true, mode: 0o700 });
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
    fs.copyFileSync(path.join(repository, "clusterctl.yaml"), path.join(xdg, "cluster-api", "clusterctl.yaml"));

    const stoppers: (() => Promise<void>)[] = [];
    let stopped: Promise<void> | undefined;
    const stop = () => {
        stopped ??= (async () => {
            for (const s of stoppers.reverse()) await s().catch(() => undefined);
        })();
        return stopped;
    };
    try {
        const servers = await Promise.all(
            (["kind", "permanent"] as const).map((name) =>
                startKubeApiServer({ name, binDir: opts.binDir, workDir: path.join(opts.workDir, name), controllerManager: true }),
            ),
        );
        for (const s of servers) stoppers.push(() => s.stop());
        const [kind, permanent] = servers;
        const webhooks = await startWebhookServer(path.join(opts.workDir, "webhooks"));
        stoppers.push(() => webhooks.stop());
        const containers = new Map<string, Container>();
        const tools = new FakeKindAndDocker(kind, opts.kindClusterName, containers, path.join(opts.workDir, "docker-registry-state.json"));
        await tools.listen();
        stoppers.push(() => tools.close());
        const controllers = new Controllers([kind, permanent], {
            permanent,
            webhooks,
            containers,
            managementCluster: { name: opts.managementClusterName, namespace: opts.namespace },
        });
        controllers.start();
        stoppers.push(async () => controllers.stop());
        const env: Record<string, string> = {
            PATH: [FAKE_BIN, opts.binDir, process.env.PATH ?? "/usr/bin:/bin"].join(":"),
            HOME: home,
            XDG_CONFIG_HOME: xdg,
            CLUSTERCTL_DISABLE_VERSIONCHECK: "true",
            REAL_WORLD_TOOLS: tools.url,
        };
        return { kind, permanent, env, stop, repository, controllers, webhooks, tools, containers };
    } catch (e) {
        await stop();
        throw e;
    }
}
