// Turns rendered objects into @pulumi/kubernetes resources on the permanent cluster. Secrets are created
// from two renders: the shape (names, types; placeholder values) decides which resources exist, so the
// graph is known at preview, and the real render (a secret Output) supplies only their data.
//
// Objects the fleet repository also holds are handed off (`handOff`): the program creates them before Flux's
// sync starts and never updates them afterwards (Git owns them), see README "Who owns what".
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { K8sObject } from "../render/types";

function resourceName(prefix: string, object: K8sObject): string {
    return `${prefix}-${object.kind.toLowerCase()}-${object.metadata.namespace ? `${object.metadata.namespace}-` : ""}${object.metadata.name}`;
}

/**
 * The field manager handed-off objects are created with: kustomize-controller's own. When Flux then applies
 * the same object from Git, it is the same manager, so it owns exactly what Git says: a field Git drops is
 * removed, and no other manager is left co-owning a field (server-side apply keeps a field while any
 * manager still claims it, and kustomize-controller only clears `kubectl` and `before-first-apply`).
 */
export const handOffFieldManager = "kustomize-controller";
const fieldManagerAnnotation = "pulumi.com/patchFieldManager";

/**
 * The field manager of the objects the program keeps. Stable, unlike the provider's default
 * (`pulumi-kubernetes-<random>` per resource): the provider plans a changed Secret as a replacement, and its
 * create under a new manager met a server-side-apply conflict with the old one on the real API server
 * (a rotated sopsAgeKey failed `up`). Under one manager the replacement applies over the same object.
 */
export const programFieldManager = "fleet-bootstrap";

/** The object's metadata with its field manager: its own if it names one (a hand-off), else the program's. */
function managedMetadata(object: K8sObject): K8sObject["metadata"] {
    const annotations = { ...object.metadata.annotations };
    annotations[fieldManagerAnnotation] ??= programFieldManager;
    return { ...object.metadata, annotations };
}

/**
 * Options and object for one that Git owns after the hand-off: created with Flux's field manager, and every
 * field but apiVersion and kind ignored after creation, so a later `pulumi up` neither reverts a Git change
 * nor meets a server-side-apply conflict (config drift is reported against the committed render instead).
 */
export function handOff(object: K8sObject, opts: pulumi.CustomResourceOptions): { object: K8sObject; opts: pulumi.CustomResourceOptions } {
    const annotations = { ...object.metadata.annotations, [fieldManagerAnnotation]: handOffFieldManager };
    const ignoreChanges = Object.keys(object).filter((key) => key !== "apiVersion" && key !== "kind");
    return { object: { ...object, metadata: { ...object.metadata, annotations } }, opts: { ...opts, ignoreChanges: [...(opts.ignoreChanges ?? []), ...ignoreChanges] } };
}

/** `applyObject` of an object Git owns after the hand-off (see `handOff`). */
export function applyHandedOff(prefix: string, object: K8sObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
    const handed = handOff(object, opts);
    return applyObject(prefix, handed.object, handed.opts);
}

/** One resource per object: typed for Namespace and ConfigMap, CustomResource for everything else. */
export function applyObject(prefix: string, object: K8sObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
    const name = resourceName(prefix, object);
    object = { ...object, metadata: managedMetadata(object) };
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
                metadata: managedMetadata(object),
                type: object.type as string | undefined,
                // Whichever the render uses: stringData (plain text) or data (base64, e.g. resource-set content).
                ...(object.stringData !== undefined ? { stringData: pulumi.secret(real.apply((o) => o.stringData as Record<string, string>)) } : {}),
                ...(object.data !== undefined ? { data: pulumi.secret(real.apply((o) => o.data as Record<string, string>)) } : {}),
            },
            opts,
        );
    });
}
