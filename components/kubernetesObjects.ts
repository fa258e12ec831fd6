// Turns rendered objects into @pulumi/kubernetes resources on the permanent cluster. Secrets are created
// from two renders: the shape (names, types; placeholder values) decides which resources exist, so the
// graph is known at preview, and the real render (a secret Output) supplies only their data.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { K8sObject } from "../render/types";

function resourceName(prefix: string, object: K8sObject): string {
    return `${prefix}-${object.kind.toLowerCase()}-${object.metadata.namespace ? `${object.metadata.namespace}-` : ""}${object.metadata.name}`;
}

/** One resource per object: typed for Namespace and ConfigMap, CustomResource for everything else. */
export function applyObject(prefix: string, object: K8sObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
    const name = resourceName(prefix, object);
    if (object.apiVersion === "v1" && object.kind === "Namespace") return new k8s.core.v1.Namespace(name, { metadata: object.metadata }, opts);
    if (object.apiVersion === "v1" && object.kind === "ConfigMap") {
        return new k8s.core.v1.ConfigMap(name, { metadata: object.metadata, data: object.data as Record<string, string> }, opts);
    }
    if (object.apiVersion === "v1" && object.kind === "Secret") throw new Error(`${name}: Secrets go through applySecrets, so that their values stay Pulumi secrets`);
    const { apiVersion, kind, metadata, ...fields } = object;
    return new k8s.apiextensions.CustomResource(name, { apiVersion, kind, metadata, ...fields }, opts);
}

/**
 * Secrets whose data comes from `values` (same objects, same order as `shape`, real values), as secret
 * inputs: encrypted in state, `[secret]` in previews and plans.
 */
export function applySecrets(prefix: string, shape: K8sObject[], values: pulumi.Output<K8sObject[]>, opts: pulumi.CustomResourceOptions): k8s.core.v1.Secret[] {
    return shape.map((object, index) => {
        const real = values.apply((objects) => {
            const match = objects[index];
            if (!match || match.metadata.name !== object.metadata.name) throw new Error(`${resourceName(prefix, object)}: the secret render does not match its shape`);
            return match;
        });
        return new k8s.core.v1.Secret(
            resourceName(prefix, object),
            {
                metadata: object.metadata,
                type: object.type as string | undefined,
                // Whichever the render uses: stringData (plain text) or data (base64, e.g. resource-set content).
                ...(object.stringData !== undefined ? { stringData: pulumi.secret(real.apply((o) => o.stringData as Record<string, string>)) } : {}),
                ...(object.data !== undefined ? { data: pulumi.secret(real.apply((o) => o.data as Record<string, string>)) } : {}),
            },
            opts,
        );
    });
}
