// Fields Cluster API's webhooks refuse to change in place ("field is immutable"; each CRD's description
// says so). The program records their values as a stack output and refuses a change at preview, with the
// fix, instead of planning an update that fails halfway through `pulumi up`.
import { K8sObject } from "./types";

/** `<apiVersion group>/<Kind>` → dotted paths of its immutable fields. */
export const IMMUTABLE_FIELDS: Record<string, readonly string[]> = {
    "addons.cluster.x-k8s.io/ClusterResourceSet": ["spec.clusterSelector", "spec.strategy"],
    "addons.cluster.x-k8s.io/HelmChartProxy": ["spec.reconcileStrategy"],
};

const objectId = (object: K8sObject) => `${object.kind} ${object.metadata.namespace ?? ""}/${object.metadata.name}`;

function valueAt(object: K8sObject, dotted: string): unknown {
    return dotted.split(".").reduce<unknown>((value, key) => (value && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined), object);
}

/** `"<Kind> <namespace>/<name> <path>"` → the field's value as JSON, for every immutable field the objects set. */
export function immutableFieldValues(objects: K8sObject[]): Record<string, string> {
    const values: Record<string, string> = {};
    for (const object of objects) {
        for (const field of IMMUTABLE_FIELDS[`${object.apiVersion.split("/")[0]}/${object.kind}`] ?? []) {
            const value = valueAt(object, field);
            if (value !== undefined) values[`${objectId(object)} ${field}`] = JSON.stringify(value);
        }
    }
    return values;
}

/** One message per immutable field whose value differs from the previous update's, saying how to change it. */
export function immutableFieldChanges(previous: Record<string, string> | undefined, current: Record<string, string>): string[] {
    const messages: string[] = [];
    for (const [key, value] of Object.entries(current)) {
        const before = previous?.[key];
        if (before === undefined || before === value) continue;
        const [kind, id, field] = key.split(" ");
        const [namespace, name] = id.split("/");
        messages.push(
            `${kind} ${id}: ${field} changed from ${before} to ${value}, but Cluster API refuses to change it in place ("field is immutable"). ` +
                `Set it back, or give the bootstrap module a new name (a new ${kind} is created with the new value) and then delete the old one, ` +
                `which the stack only releases: kubectl --kubeconfig <management kubeconfig> -n ${namespace} delete ${kind.toLowerCase()} ${name}`,
        );
    }
    return messages;
}
