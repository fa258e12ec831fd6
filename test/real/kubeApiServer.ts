// A real Kubernetes API server for the tests that need one: etcd + kube-apiserver (+ optionally a
// kube-controller-manager running only namespace deletion and garbage collection), built by
// scripts/engine-tools.sh, bound to 127.0.0.1 on free ports, with a token in system:masters.
// Every process is supervised: it is stopped by stop(), on this process's exit or interrupt, and by its
// supervisor when this process dies without cleaning up (kill -9).
import { ChildProcess, execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { waitBoundMs } from "../support/bounds";
import { freePort, stopProcess, supervise, waitFor } from "./processes";

export interface KubeApiServer {
    name: string;
    /** https://127.0.0.1:<port> */
    url: string;
    /** A kubeconfig (mode 0600) for a system:masters user; its context is named after the server. */
    kubeconfigPath: string;
    kubeconfig: string;
    /** The serving certificate, PEM (self-signed, SAN 127.0.0.1). */
    caPem: string;
    token: string;
    /** kubectl against this server, with `args`; throws with kubectl's stderr when it fails. */
    kubectl(args: string[], input?: string): string;
    /** Stops the server and wipes its etcd: it refuses connections and holds nothing (a deleted cluster). */
    halt(): Promise<void>;
    /** Starts a halted server again, empty, on the same address with the same credentials. */
    resume(): Promise<void>;
    stop(): Promise<void>;
}

export interface KubeApiServerOptions {
    name: string;
    /** The directory with etcd, kube-apiserver, kube-controller-manager and kubectl. */
    binDir: string;
    /** Where its data, certificates, logs and kubeconfig go; created, and removed by stop(). */
    workDir: string;
    /** Run kube-controller-manager for namespace deletion and garbage collection (default false). */
    controllerManager?: boolean;
}

async function readyz(url: string, ca: string, token: string): Promise<boolean> {
    return new Promise((resolve) => {
        const req = https.get(`${url}/readyz`, { ca, headers: { Authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
        });
        req.on("error", () => resolve(false));
        req.on("timeout", () => {
            req.destroy();
            resolve(false);
        });
    });
}

function certificates(dir: string): { cert: string; key: string; saKey: string; saPub: string } {
    const file = (name: string) => path.join(dir, name);
    const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", file("serving.key"), "-out", file("serving.crt")]);
    openssl(["genrsa", "-out", file("sa.key"), "2048"]);
    openssl(["rsa", "-in", file("sa.key"), "-pubout", "-out", file("sa.pub")]);
    return { cert: file("serving.crt"), key: file("serving.key"), saKey: file("sa.key"), saPub: file("sa.pub") };
}

export function kubeconfigFor(name: string, url: string, caPem: string, token: string): string {
    const ca = Buffer.from(caPem).toString("base64");
    return [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `- name: ${name}`,
        "  cluster:",
        `    server: ${url}`,
        `    certificate-authority-data: ${ca}`,
        "users:",
        `- name: ${name}-admin`,
        "  user:",
        `    token: ${token}`,
        "contexts:",
        `- name: ${name}`,
        "  context:",
        `    cluster: ${name}`,
        `    user: ${name}-admin`,
        `current-context: ${name}`,
        "",
    ].join("\n");
}

export async function startKubeApiServer(options: KubeApiServerOptions): Promise<KubeApiServer> {
    const bin = (tool: string) => {
        const file = path.join(options.binDir, tool);
        if (!fs.existsSync(file)) throw new Error(`${file} not found: run scripts/engine-tools.sh to build the engine and Kubernetes tools`);
        return file;
    };
    const dir = options.workDir;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const certs = certificates(dir);
    const token = crypto.randomBytes(24).toString("hex");
    const tokenFile = path.join(dir, "tokens.csv");
    fs.writeFileSync(tokenFile, `${token},admin,admin,system:masters\n`, { mode: 0o600 });
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const url = `https://127.0.0.1:${apiPort}`;
    const caPem = fs.readFileSync(certs.cert, "utf8");
    const kubeconfig = kubeconfigFor(options.name, url, caPem, token);
    const kubeconfigPath = path.join(dir, "kubeconfig");
    fs.writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });
    const etcdData = path.join(dir, "etcd");

    // The processes of the server while it runs (launch), in start order.
    let processes: ChildProcess[] = [];
    const stopAll = async () => {
        for (const child of [...processes].reverse()) await stopProcess(child);
        processes = [];
    };
    const launch = async () => {
        const etcdLog = path.join(dir, "etcd.log");
        const etcd = supervise(etcdLog, [
            bin("etcd"), "--name", options.name, "--data-dir", etcdData, "--unsafe-no-fsync",
            "--listen-client-urls", `http://127.0.0.1:${etcdClient}`, "--advertise-client-urls", `http://127.0.0.1:${etcdClient}`,
            "--listen-peer-urls", `http://127.0.0.1:${etcdPeer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${etcdPeer}`,
            "--initial-cluster", `${options.name}=http://127.0.0.1:${etcdPeer}`, "--log-level", "warn",
        ]);
        const apiLog = path.join(dir, "kube-apiserver.log");
        const apiserver = supervise(apiLog, [
            bin("kube-apiserver"), "--etcd-servers", `http://127.0.0.1:${etcdClient}`,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", String(apiPort),
            "--tls-cert-file", certs.cert, "--tls-private-key-file", certs.key, "--cert-dir", path.join(dir, "certs"),
            "--token-auth-file", tokenFile, "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", certs.saPub,
            "--service-account-signing-key-file", certs.saKey, "--service-cluster-ip-range", "10.96.0.0/16",
            "--endpoint-reconciler-type", "none", "--allow-privileged=true", "--profiling=false",
        ]);
        processes = [etcd, apiserver];
        try {
            await waitFor(`kube-apiserver ${options.name}`, apiLog, waitBoundMs(), () => readyz(url, caPem, token), apiserver);
        } catch (e) {
            await stopAll();
            throw e;
        }
        if (options.controllerManager) {
            processes.push(supervise(path.join(dir, "kube-controller-manager.log"), [
                bin("kube-controller-manager"), "--kubeconfig", kubeconfigPath, "--controllers", "namespace,garbagecollector",
                "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", "0",
            ]));
        }
    };
    await launch();

    const server: KubeApiServer = {
        name: options.name,
        url,
        kubeconfigPath,
        kubeconfig,
        caPem,
        token,
        kubectl(args: string[], input?: string): string {
            try {
                return execFileSync(bin("kubectl"), ["--kubeconfig", kubeconfigPath, ...args], { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
            } catch (e) {
                const err = e as { stderr?: string; message: string };
                throw new Error(`kubectl ${args.join(" ")} (server ${options.name}): ${err.stderr?.trim() || err.message}`);
            }
        },
        async halt(): Promise<void> {
            await stopAll();
            fs.rmSync(etcdData, { recursive: true, force: true });
        },
        async resume(): Promise<void> {
            if (processes.length === 0) await launch();
        },
        async stop(): Promise<void> {
            await stopAll();
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
    return server;
}
