// The real Flux on the permanent side, for the controllers tier: the real OCI registry (distribution)
// serving the fleet's render where the render says the clusters pull it (fleet-local-source:5000, plain
// HTTP, as the `fleet-source` step runs it), and a second one standing in for ghcr.io (TLS, with a CA of
// the test's own) holding the two things the render pulls from there, the Flux Operator's manifests
// artifact and its Helm chart; the real flux CLI pushing the artifacts; and the real Flux Operator,
// source-controller, kustomize-controller and helm-controller as host processes against the permanent
// API server. Every process binds to 127.0.0.1; the render's host names resolve there through a hosts
// file in each process's own mount namespace (withHosts), so nothing outside the test sees them.
import { execFile, execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as path from "node:path";
import { localSourcePort } from "../../render/flux";
import { boundReached, outputTail, pollUntil, waitBoundMs } from "../support/bounds";
import { KubeApiServer } from "./kubeApiServer";
import { KubeClient, Resource } from "./kubeClient";
import { freePort, stopProcess, supervise, tail, waitFor, withHosts } from "./processes";

/** The tools of this module, all built by scripts/engine-tools.sh. */
export const REAL_FLUX_TOOLS = ["registry", "flux", "flux-operator", "source-controller", "kustomize-controller", "helm-controller"];
/** The Flux controllers the tier runs for real (the render's FluxInstance also names notification-controller, which the proxy does not serve). */
const FLUX_CONTROLLERS = ["source-controller", "kustomize-controller", "helm-controller"];

/** Where the render's registry container and ghcr.io listen: the ports their URLs name, on 127.0.0.1. */
const FLEET_SOURCE_PORT = localSourcePort;
const GHCR_PORT = 443;

export interface RealFluxOptions {
    workDir: string;
    binDir: string;
    permanent: KubeApiServer;
    /** The registry container's name in the render's sync URL (oci://<name>:5000/...). */
    fleetSourceHost: string;
}

export interface RealFlux {
    /** Pushes `renderDir` as `oci://127.0.0.1:5000/<repository>:<tag>` the way the fleet-source step does. */
    pushRender(renderDir: string, artifactPath: string, artifact: string, environment: string, revision: string): Promise<void>;
    /** Pushes a directory as an artifact to the ghcr.io stand-in (`ref` without oci://, e.g. ghcr.io/x/y:v1). */
    pushGhcrArtifact(ref: string, dir: string, revision: string): Promise<void>;
    /** Pushes a chart directory to the ghcr.io stand-in as `helm push` does (Helm's OCI media types). */
    pushGhcrChart(repository: string, chartDir: string, version: string): Promise<void>;
    /**
     * Starts the Flux Operator (its distribution manifests from `storagePath`) once its CRDs exist (the
     * program's Helm release installs them), then the Flux controllers once the operator has installed
     * theirs: as a cluster's kubelet starts their pods once they are scheduled. Resolves when all run.
     */
    startAsInstalled(storagePath: string): Promise<void>;
    /** The last lines of a process's log, for a failure message. */
    log(name: string, lines?: number): string;
    stop(): Promise<void>;
}

interface Started {
    name: string;
    log: string;
    child: ReturnType<typeof supervise>;
}

function run(what: string, file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
    const boundMs = waitBoundMs();
    return new Promise((resolve, reject) => {
        execFile(file, args, { env, timeout: boundMs, killSignal: "SIGKILL", maxBuffer: 16 << 20, encoding: "utf8" }, (error, stdout, stderr) => {
            if (!error) return resolve(stdout);
            if ((error as { killed?: boolean }).killed) return reject(boundReached(what, boundMs, outputTail(`${stdout}\n${stderr}`)));
            reject(new Error(`${what} failed (${error.message.split("\n")[0]}):\n${outputTail(`${stdout}\n${stderr}`)}`));
        });
    });
}

/** Fails with a message naming the port when something else already listens on it. */
async function requireFreePort(port: number, why: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
        const server = net.createServer();
        server.once("error", (e: NodeJS.ErrnoException) =>
            reject(new Error(`127.0.0.1:${port} is in use (${e.code}): the controllers tier needs it free, because ${why}; stop what listens there (ss -ltnp 'sport = :${port}')`)),
        );
        server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
    });
}

async function httpOk(url: string, ca?: string): Promise<boolean> {
    return new Promise((resolve) => {
        const secure = url.startsWith("https:");
        const options = { ca, timeout: 2000, servername: secure ? "ghcr.io" : undefined };
        const onResponse = (res: http.IncomingMessage) => {
            res.resume();
            resolve(res.statusCode === 200);
        };
        const req = secure ? https.get(url, options, onResponse) : http.get(url, options, onResponse);
        req.on("error", () => resolve(false));
        req.on("timeout", () => {
            req.destroy();
            resolve(false);
        });
    });
}

/** A blob or manifest request to the ghcr.io stand-in; resolves with the response's status and headers. */
function registryRequest(port: number, ca: string, method: string, urlPath: string, body: Buffer, contentType: string): Promise<{ status: number; location?: string; text: string }> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            { host: "127.0.0.1", port, servername: "ghcr.io", ca, method, path: urlPath, headers: { "Content-Type": contentType, "Content-Length": body.length } },
            (res) => {
                let text = "";
                res.on("data", (d) => (text += d));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text }));
            },
        );
        req.on("error", reject);
        req.end(body);
    });
}

const CRDS: Resource = { group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", namespaced: false };

/** Waits until the CRD `name` is established on the server. */
async function established(client: KubeClient, name: string): Promise<void> {
    let last = "not there";
    await pollUntil(
        `the CRD ${name} established`,
        async () => {
            try {
                const crd = await client.get(CRDS, undefined, name);
                const conditions = (crd?.status?.conditions ?? []) as { type: string; status: string }[];
                last = crd ? `conditions ${JSON.stringify(conditions)}` : "not there";
                return conditions.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
            } catch (e) {
                last = (e as Error).message;
                return undefined;
            }
        },
        () => last,
    );
}

const sha256 = (data: Buffer) => `sha256:${crypto.createHash("sha256").update(data).digest("hex")}`;

export async function startRealFlux(opts: RealFluxOptions): Promise<RealFlux> {
    const missing = REAL_FLUX_TOOLS.filter((t) => !fs.existsSync(path.join(opts.binDir, t)));
    if (missing.length > 0) throw new Error(`the controllers tier needs ${missing.join(", ")} in ${opts.binDir}: build them with \`bash scripts/engine-tools.sh\``);
    await requireFreePort(FLEET_SOURCE_PORT, `the render's sync URL names oci://${opts.fleetSourceHost}:${FLEET_SOURCE_PORT}`);
    await requireFreePort(GHCR_PORT, "the render pulls the Flux Operator's chart and manifests from ghcr.io (HTTPS)");
    const dir = opts.workDir;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const bin = (tool: string) => path.join(opts.binDir, tool);
    const started: Started[] = [];

    const hostsFile = path.join(dir, "hosts");
    fs.writeFileSync(hostsFile, `127.0.0.1 localhost ${opts.fleetSourceHost} ghcr.io\n`);
    // The ghcr.io stand-in's certificate, also the one root the processes trust (SSL_CERT_FILE).
    const caFile = path.join(dir, "ghcr.crt");
    const keyFile = path.join(dir, "ghcr.key");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ghcr.io",
        "-addext", "subjectAltName=DNS:ghcr.io,IP:127.0.0.1", "-keyout", keyFile, "-out", caFile], { stdio: ["ignore", "ignore", "pipe"] });
    const ca = fs.readFileSync(caFile, "utf8");
    const env: NodeJS.ProcessEnv = {
        PATH: `${opts.binDir}:/usr/bin:/bin`,
        HOME: path.join(dir, "home"),
        KUBECONFIG: opts.permanent.kubeconfigPath,
        RUNTIME_NAMESPACE: "flux-system",
        SSL_CERT_FILE: caFile,
    };
    fs.mkdirSync(env.HOME as string, { recursive: true, mode: 0o700 });

    const start = (name: string, argv: string[]): Started => {
        const log = path.join(dir, `${name}.log`);
        const entry = { name, log, child: supervise(log, withHosts(hostsFile, argv), env) };
        started.push(entry);
        return entry;
    };
    const startRegistry = async (name: string, port: number, tls: boolean) => {
        const config = path.join(dir, `${name}.yaml`);
        fs.writeFileSync(config, [
            "version: 0.1",
            "log: {level: warn, accesslog: {disabled: true}}",
            `storage: {filesystem: {rootdirectory: ${path.join(dir, name)}}}`,
            "http:",
            `  addr: 127.0.0.1:${port}`,
            `  secret: ${crypto.randomBytes(16).toString("hex")}`,
            ...(tls ? [`  tls: {certificate: ${caFile}, key: ${keyFile}}`] : []),
            "",
        ].join("\n"));
        const entry = start(name, [bin("registry"), "serve", config]);
        await waitFor(`registry ${name}`, entry.log, waitBoundMs(), () => httpOk(`${tls ? "https" : "http"}://127.0.0.1:${port}/v2/`, ca), entry.child);
    };
    /** Starts a controller and waits until its health endpoint reports ready. */
    const startController = async (name: string, argv: string[], healthPort: number) => {
        const entry = start(name, argv);
        await waitFor(name, entry.log, waitBoundMs(), () => httpOk(`http://127.0.0.1:${healthPort}/readyz`), entry.child);
    };
    const addresses = async () => ({ metrics: `127.0.0.1:${await freePort()}`, healthPort: await freePort() });

    const flux: RealFlux = {
        async pushRender(renderDir, artifactPath, artifact, environment, revision) {
            // As the fleet-source step mounts it: the render at <artifactPath> inside the pushed directory.
            const workspace = path.join(dir, `push-${crypto.randomBytes(4).toString("hex")}`);
            fs.mkdirSync(path.dirname(path.join(workspace, artifactPath)), { recursive: true });
            fs.cpSync(renderDir, path.join(workspace, artifactPath), { recursive: true });
            const local = artifact.replace(/^oci:\/\/[^/]+/, `oci://127.0.0.1:${FLEET_SOURCE_PORT}`);
            await run(`flux push artifact ${local}`, bin("flux"), ["push", "artifact", local, `--path=${workspace}`, `--source=fleet-bootstrap/${environment}`,
                `--revision=${environment}@${revision}`, "--insecure-registry"], env);
            fs.rmSync(workspace, { recursive: true, force: true });
        },
        async pushGhcrArtifact(ref, artifactDir, revision) {
            const [file, ...args] = withHosts(hostsFile, [bin("flux"), "push", "artifact", `oci://${ref}`, `--path=${artifactDir}`,
                "--source=fleet-bootstrap/controllers-tier", `--revision=${revision}`]);
            await run(`flux push artifact oci://${ref}`, file, args, env);
        },
        async pushGhcrChart(repository, chartDir, version) {
            const layer = execFileSync("tar", ["-czf", "-", "-C", path.dirname(chartDir), path.basename(chartDir)], { maxBuffer: 64 << 20 });
            const config = Buffer.from(JSON.stringify({ apiVersion: "v2", name: path.basename(chartDir), version }));
            const blob = async (data: Buffer) => {
                const upload = await registryRequest(GHCR_PORT, ca, "POST", `/v2/${repository}/blobs/uploads/`, Buffer.alloc(0), "application/octet-stream");
                if (upload.status !== 202 || !upload.location) throw new Error(`starting a blob upload to ghcr.io/${repository}: HTTP ${upload.status} ${upload.text}`);
                const target = new URL(upload.location, `https://127.0.0.1:${GHCR_PORT}`);
                target.searchParams.set("digest", sha256(data));
                const put = await registryRequest(GHCR_PORT, ca, "PUT", `${target.pathname}${target.search}`, data, "application/octet-stream");
                if (put.status !== 201) throw new Error(`uploading a blob to ghcr.io/${repository}: HTTP ${put.status} ${put.text}`);
                return { digest: sha256(data), size: data.length };
            };
            const manifest = Buffer.from(JSON.stringify({
                schemaVersion: 2,
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                config: { mediaType: "application/vnd.cncf.helm.config.v1+json", ...(await blob(config)) },
                layers: [{ mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", ...(await blob(layer)) }],
            }));
            const put = await registryRequest(GHCR_PORT, ca, "PUT", `/v2/${repository}/manifests/${version}`, manifest, "application/vnd.oci.image.manifest.v1+json");
            if (put.status !== 201) throw new Error(`pushing the chart manifest ghcr.io/${repository}:${version}: HTTP ${put.status} ${put.text}`);
        },
        async startAsInstalled(storagePath) {
            const client = new KubeClient(opts.permanent);
            try {
                await established(client, "fluxinstances.fluxcd.controlplane.io");
                const operator = await addresses();
                await startController("flux-operator", [bin("flux-operator"), `--storage-path=${storagePath}`, `--metrics-addr=${operator.metrics}`,
                    `--health-addr=127.0.0.1:${operator.healthPort}`, "--enable-leader-election=false", "--web-server-port=0"], operator.healthPort);
                for (const crd of ["ocirepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io", "helmreleases.helm.toolkit.fluxcd.io"]) await established(client, crd);
                // source-controller serves the artifacts it fetched to the other controllers from here.
                const artifacts = { dir: path.join(dir, "source-storage"), addr: `127.0.0.1:${await freePort()}` };
                fs.mkdirSync(artifacts.dir, { recursive: true, mode: 0o700 });
                for (const name of FLUX_CONTROLLERS) {
                    const a = await addresses();
                    const own = name === "source-controller" ? [`--storage-path=${artifacts.dir}`, `--storage-addr=${artifacts.addr}`, `--storage-adv-addr=${artifacts.addr}`] : [];
                    await startController(name, [bin(name), ...own, `--metrics-addr=${a.metrics}`, `--health-addr=127.0.0.1:${a.healthPort}`,
                        "--enable-leader-election=false", "--watch-all-namespaces"], a.healthPort);
                }
            } finally {
                client.close();
            }
        },
        log: (name, lines = 30) => {
            const entry = started.find((s) => s.name === name);
            return entry ? tail(entry.log, lines) : `(${name} was not started)`;
        },
        async stop() {
            for (const entry of [...started].reverse()) await stopProcess(entry.child);
            started.length = 0;
        },
    };
    try {
        await startRegistry("fleet-source-registry", FLEET_SOURCE_PORT, false);
        await startRegistry("ghcr-registry", GHCR_PORT, true);
    } catch (e) {
        await flux.stop();
        throw e;
    }
    return flux;
}
