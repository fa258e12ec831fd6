// A small asynchronous client of a real kube-apiserver (HTTPS, bearer token), for the harness that
// plays controllers while a step script runs: it never blocks the event loop the way kubectl through
// execFileSync would.
import * as https from "node:https";

export interface KubeObject {
    apiVersion: string;
    kind: string;
    metadata: {
        name: string;
        namespace?: string;
        uid?: string;
        generation?: number;
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
        ownerReferences?: OwnerReference[];
        finalizers?: string[];
        deletionTimestamp?: string;
        [field: string]: unknown;
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    spec?: any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    status?: any;
    [field: string]: unknown;
}

export interface OwnerReference {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
}

/** A resource type: group ("" for the core group), version, plural, namespaced. */
export interface Resource {
    group: string;
    version: string;
    plural: string;
    namespaced: boolean;
}

export class KubeApiError extends Error {
    constructor(
        readonly status: number,
        message: string,
    ) {
        super(message);
    }
}

export function apiVersionOf(r: Resource): string {
    return r.group ? `${r.group}/${r.version}` : r.version;
}

export class KubeClient {
    private readonly agent: https.Agent;

    constructor(
        private readonly server: { url: string; caPem: string; token: string },
    ) {
        this.agent = new https.Agent({ ca: server.caPem, keepAlive: true, maxSockets: 8 });
    }

    path(r: Resource, namespace?: string, name?: string, subresource?: string): string {
        const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
        const ns = r.namespaced && namespace ? `/namespaces/${namespace}` : "";
        return `${base}${ns}/${r.plural}${name ? `/${name}` : ""}${subresource ? `/${subresource}` : ""}`;
    }

    /** One API call; "try again" answers (429, 503: e.g. a new CRD's storage still initializing) are retried for ~10 s. */
    async request<T>(method: string, path: string, body?: unknown, contentType = "application/json", accept = "application/json"): Promise<T> {
        for (let attempt = 1; ; attempt++) {
            try {
                return await this.requestOnce<T>(method, path, body, contentType, accept);
            } catch (e) {
                if (!(e instanceof KubeApiError && (e.status === 429 || e.status === 503)) || attempt >= 20) throw e;
                await new Promise((r) => setTimeout(r, 500));
            }
        }
    }

    private requestOnce<T>(method: string, path: string, body: unknown, contentType: string, accept: string): Promise<T> {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        return new Promise((resolve, reject) => {
            const req = https.request(
                `${this.server.url}${path}`,
                {
                    method,
                    agent: this.agent,
                    timeout: 15_000,
                    headers: {
                        Authorization: `Bearer ${this.server.token}`,
                        Accept: accept,
                        ...(payload === undefined ? {} : { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) }),
                    },
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => {
                        const text = Buffer.concat(chunks).toString("utf8");
                        const status = res.statusCode ?? 0;
                        if (status >= 200 && status < 300) {
                            resolve((text ? JSON.parse(text) : undefined) as T);
                            return;
                        }
                        let message = text;
                        try {
                            message = (JSON.parse(text) as { message?: string }).message ?? text;
                        } catch {
                            /* not JSON */
                        }
                        reject(new KubeApiError(status, `${method} ${path}: ${status} ${message}`));
                    });
                },
            );
            req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
            req.on("error", reject);
            if (payload !== undefined) req.write(payload);
            req.end();
        });
    }

    async get(r: Resource, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
        try {
            return await this.request<KubeObject>("GET", this.path(r, namespace, name));
        } catch (e) {
            if (e instanceof KubeApiError && e.status === 404) return undefined;
            throw e;
        }
    }

    /** Every object of the type (all namespaces unless one is given); [] when the type is not served. */
    async list(r: Resource, namespace?: string, labelSelector?: string): Promise<KubeObject[]> {
        const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : "";
        try {
            const list = await this.request<{ items: KubeObject[] }>("GET", this.path(r, namespace) + query);
            const apiVersion = apiVersionOf(r);
            return list.items.map((o) => ({ ...o, apiVersion }));
        } catch (e) {
            if (e instanceof KubeApiError && e.status === 404) return [];
            throw e;
        }
    }

    /** Names and resource versions only (PartialObjectMetadata): cheap polling of large objects such as CRDs. */
    async listMetadata(r: Resource): Promise<{ name: string; resourceVersion: string }[]> {
        const list = await this.request<{ items: { metadata: { name: string; resourceVersion: string } }[] }>(
            "GET", this.path(r), undefined, undefined, "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1");
        return list.items.map((i) => ({ name: i.metadata.name, resourceVersion: i.metadata.resourceVersion }));
    }

    create(r: Resource, obj: KubeObject): Promise<KubeObject> {
        return this.request<KubeObject>("POST", this.path(r, obj.metadata.namespace), obj);
    }

    mergePatch(r: Resource, namespace: string | undefined, name: string, patch: unknown, subresource?: string): Promise<KubeObject> {
        return this.request<KubeObject>("PATCH", this.path(r, namespace, name, subresource), patch, "application/merge-patch+json");
    }

    async delete(r: Resource, namespace: string | undefined, name: string): Promise<void> {
        try {
            await this.request("DELETE", this.path(r, namespace, name));
        } catch (e) {
            if (!(e instanceof KubeApiError && e.status === 404)) throw e;
        }
    }

    close(): void {
        this.agent.destroy();
    }
}
