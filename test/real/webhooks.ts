// The providers' webhooks, stood in for. Their Deployments never run here (no images), and nothing
// issues their certificates (cert-manager is only its CRDs), so every webhook the providers install
// (failurePolicy: Fail) and every CRD conversion webhook would fail. The harness plays two things
// instead, and only those:
//   - cert-manager's CA injector and the webhook Services: a webhook or conversion clientConfig that
//     names a Service is pointed at one HTTPS server on 127.0.0.1 with its CA bundle;
//   - the webhook servers: that server allows every admission request (no defaulting, no validation:
//     the program's manifests spell out what the defaulting webhooks would set) and refuses every
//     conversion, so a client that asks for another version than the stored one fails loudly.
// Every call is recorded (path and kind) for the tests.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as path from "node:path";
import { KubeClient, KubeObject, Resource } from "./kubeClient";

export interface WebhookCall {
    path: string;
    review: string;
    kind?: string;
    operation?: string;
}

export interface WebhookServer {
    /** https://127.0.0.1:<port> */
    url: string;
    caBundle: string;
    calls: WebhookCall[];
    stop(): Promise<void>;
}

export async function startWebhookServer(dir: string): Promise<WebhookServer> {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = path.join(dir, "webhook.key");
    const cert = path.join(dir, "webhook.crt");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: ["ignore", "ignore", "pipe"] });
    const calls: WebhookCall[] = [];
    const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            let review: { kind?: string; apiVersion?: string; request?: { uid: string; kind?: { kind: string }; operation?: string; desiredAPIVersion?: string } };
            try {
                review = JSON.parse(Buffer.concat(chunks).toString("utf8"));
            } catch {
                res.writeHead(400).end();
                return;
            }
            const request = review.request ?? { uid: "" };
            calls.push({ path: req.url ?? "", review: review.kind ?? "", kind: request.kind?.kind, operation: request.operation });
            const response =
                review.kind === "ConversionReview"
                    ? {
                          uid: request.uid,
                          convertedObjects: [],
                          result: {
                              status: "Failure",
                              message: `conversion to ${request.desiredAPIVersion} is not played by the test harness (webhook ${req.url})`,
                          },
                      }
                    : { uid: request.uid, allowed: true };
            res.writeHead(200, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ apiVersion: review.apiVersion, kind: review.kind, response }));
        });
    });
    // Every TCP connection, also one still in its TLS handshake: stop() destroys them all, or the API
    // server's keep-alive connections (it reconnects at any time) would hold close() open forever.
    const sockets = new Set<net.Socket>();
    server.on("connection", (socket: net.Socket) => {
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    return {
        url: `https://127.0.0.1:${port}`,
        caBundle: Buffer.from(fs.readFileSync(cert, "utf8")).toString("base64"),
        calls,
        stop: () => new Promise<void>((resolve) => {
            server.close(() => resolve());
            for (const socket of sockets) socket.destroy();
        }),
    };
}

const WEBHOOK_CONFIGURATIONS: Resource[] = [
    { group: "admissionregistration.k8s.io", version: "v1", plural: "validatingwebhookconfigurations", namespaced: false },
    { group: "admissionregistration.k8s.io", version: "v1", plural: "mutatingwebhookconfigurations", namespaced: false },
];
const CRDS: Resource = { group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", namespaced: false };

interface ClientConfig {
    url?: string;
    caBundle?: string;
    service?: { name: string; namespace: string; path?: string };
}

function routed(config: ClientConfig, server: WebhookServer): ClientConfig {
    const service = config.service as NonNullable<ClientConfig["service"]>;
    return { url: `${server.url}${service.path ?? "/"}`, caBundle: server.caBundle };
}

/**
 * Points every Service-backed webhook and CRD conversion on the API server at the webhook server.
 * `seen` remembers the CRD resource versions already looked at (CRDs are large: only new or changed
 * ones are read).
 */
export async function routeWebhooks(client: KubeClient, server: WebhookServer, seen: Map<string, string>): Promise<number> {
    let changed = 0;
    for (const r of WEBHOOK_CONFIGURATIONS) {
        for (const config of await client.list(r)) {
            const webhooks = (config.webhooks ?? []) as { clientConfig: ClientConfig }[];
            if (!webhooks.some((w) => w.clientConfig.service)) continue;
            const updated = webhooks.map((w) => (w.clientConfig.service ? { ...w, clientConfig: routed(w.clientConfig, server) } : w));
            await client.request("PUT", client.path(r, undefined, config.metadata.name), { ...config, webhooks: updated } as KubeObject);
            changed++;
        }
    }
    for (const { name, resourceVersion } of await client.listMetadata(CRDS)) {
        if (seen.get(name) === resourceVersion) continue;
        const crd = await client.get(CRDS, undefined, name);
        if (!crd) continue;
        seen.set(name, resourceVersion);
        const webhook = crd.spec?.conversion?.webhook as { clientConfig?: ClientConfig } | undefined;
        if (!webhook?.clientConfig?.service) continue;
        await client.mergePatch(CRDS, undefined, crd.metadata.name, {
            spec: { conversion: { webhook: { clientConfig: { service: null, ...routed(webhook.clientConfig, server) } } } },
        });
        changed++;
    }
    return changed;
}
