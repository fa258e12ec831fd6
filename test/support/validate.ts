// Offline validation of rendered Kubernetes objects, as strict as an API server with field validation:
// - custom resources against the upstream CRDs (test/fixtures/paths.ts says where they come from): the group/kind must have a CRD, the
//   version must exist and be served (and not deprecated unless allowed), and the object must satisfy the
//   version's structural `openAPIV3Schema`, with Kubernetes semantics: unknown fields are rejected unless
//   the schema preserves them, `x-kubernetes-int-or-string`, list-type set/map uniqueness, and the few
//   CEL rules of the CRDs we render that have a fixed, known meaning;
// - core objects (v1 ConfigMap, Secret, Namespace, apps/v1, rbac, …) with kubernetes-models' generated
//   validators, plus top-level unknown fields and the API server's ConfigMap/Secret data rules;
// - `metadata` of every object as ObjectMeta (names, label and annotation keys and values).
// A core-looking object of a kind nobody knows is an error. Validators compile lazily, once per kind.
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";

import Ajv, { type AnySchemaObject, type ErrorObject, type ValidateFunction } from "ajv";
import * as yaml from "js-yaml";

import { crdsDir } from "../fixtures/paths";

export interface ValidateOptions {
    /** Accept versions the CRD marks `deprecated: true` (default: an error). */
    allowDeprecated?: boolean;
}


// ---------------------------------------------------------------------------------------------------
// CRD index: group/kind → file, found with a cheap text scan; a CRD is parsed only when first used.

interface CrdVersion {
    name: string;
    served: boolean;
    deprecated?: boolean;
    schema?: { openAPIV3Schema?: AnySchemaObject };
}
interface Crd {
    spec: { group: string; scope: "Namespaced" | "Cluster"; names: { kind: string }; versions: CrdVersion[] };
}

let crdFiles: Map<string, string> | undefined;
let crdGroups: Set<string> | undefined;
const parsedCrds = new Map<string, Crd>();

function listYamlFiles(dir: string): string[] {
    const out: string[] = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) out.push(...listYamlFiles(full));
        else if (/\.ya?ml$/.test(entry.name)) out.push(full);
    }
    return out.sort();
}

function crdIndex(): { files: Map<string, string>; groups: Set<string> } {
    if (!crdFiles || !crdGroups) {
        crdFiles = new Map();
        crdGroups = new Set();
        for (const file of listYamlFiles(crdsDir())) {
            const text = fs.readFileSync(file, "utf8");
            if (!/^kind: CustomResourceDefinition\s*$/m.test(text)) continue;
            const group = /^ {2}group: (\S+)\s*$/m.exec(text)?.[1];
            const kind = /^ {2}names:\s*\n(?: {4}.*\n)*? {4}kind: (\S+)\s*$/m.exec(text)?.[1];
            if (!group || !kind) continue;
            crdFiles.set(`${group}/${kind}`, file);
            crdGroups.add(group);
        }
    }
    return { files: crdFiles, groups: crdGroups };
}

function loadCrd(file: string): Crd {
    let crd = parsedCrds.get(file);
    if (!crd) {
        crd = yaml.load(fs.readFileSync(file, "utf8")) as Crd;
        parsedCrds.set(file, crd);
    }
    return crd;
}

// ---------------------------------------------------------------------------------------------------
// Structural schema → JSON Schema for ajv.

type Schema = Record<string, unknown>;

const droppedKeywords = new Set(["description", "example", "default", "format", "x-kubernetes-map-type", "x-kubernetes-list-type"]);

/**
 * Converts a Kubernetes structural schema node. `structural` is false inside value validations
 * (anyOf/allOf/oneOf/not), which only constrain and must not add `additionalProperties: false`.
 */
function adapt(node: unknown, structural: boolean): Schema {
    if (typeof node !== "object" || node === null) return {};
    const s = node as Schema;
    const out: Schema = {};
    for (const [key, value] of Object.entries(s)) {
        if (droppedKeywords.has(key)) continue;
        switch (key) {
            case "properties":
                out.properties = Object.fromEntries(Object.entries(value as Schema).map(([k, v]) => [k, adapt(v, structural)]));
                break;
            case "items":
                out.items = adapt(value, structural);
                break;
            case "additionalProperties":
                out.additionalProperties = typeof value === "boolean" ? value : adapt(value, structural);
                break;
            case "anyOf":
            case "allOf":
            case "oneOf":
                out[key] = (value as unknown[]).map((v) => adapt(v, false));
                break;
            case "not":
                out.not = adapt(value, false);
                break;
            case "exclusiveMinimum":
            case "exclusiveMaximum":
                // OpenAPI 3.0 booleans → JSON Schema numbers.
                if (value === true) out[key] = s[key === "exclusiveMinimum" ? "minimum" : "maximum"];
                else if (typeof value === "number") out[key] = value;
                break;
            case "nullable":
                break; // handled below
            case "x-kubernetes-int-or-string":
            case "x-kubernetes-preserve-unknown-fields":
            case "x-kubernetes-embedded-resource":
                break; // handled below
            default:
                out[key] = value;
        }
    }
    if (s["x-kubernetes-list-type"] === "set") out.uniqueItems = true;
    if (s["x-kubernetes-int-or-string"] === true) {
        delete out.type;
        if (!out.anyOf) out.anyOf = [{ type: "integer" }, { type: "string" }];
    }
    if (s["exclusiveMinimum"] === true && out.exclusiveMinimum !== undefined) delete out.minimum;
    if (s["exclusiveMaximum"] === true && out.exclusiveMaximum !== undefined) delete out.maximum;
    if (s["x-kubernetes-embedded-resource"] === true) {
        out.properties = {
            apiVersion: { type: "string" },
            kind: { type: "string" },
            metadata: { type: "object" },
            ...((out.properties as Schema | undefined) ?? {}),
        };
    }
    const preserve = s["x-kubernetes-preserve-unknown-fields"] === true;
    if (structural && out.type === "object" && out.additionalProperties === undefined && !preserve) {
        // Structural schema semantics: a field the schema does not know would be pruned; strict field
        // validation (and this validator) rejects it instead.
        out.additionalProperties = false;
    }
    if (s.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
    return out;
}

// CEL rules (x-kubernetes-validations) with a fixed meaning that we evaluate; others are not checked.
type CelCheck = (data: unknown, root: unknown) => boolean;

const uniqueFieldRule = /^self\.all\(x, self\.exists_one\(y, x\.(\w+) == y\.(\w+)\)\)$/;
const fixedNameRule = /^self\.metadata\.name == '([^']*)'$/;

function celCheck(rule: string): CelCheck | undefined {
    const normalized = rule.replace(/\s+/g, " ").trim();
    const unique = uniqueFieldRule.exec(normalized);
    if (unique && unique[1] === unique[2]) {
        const field = unique[1];
        return (data) => {
            if (!Array.isArray(data)) return true;
            const seen = new Set<string>();
            for (const item of data) {
                const key = JSON.stringify((item as Record<string, unknown>)?.[field]);
                if (seen.has(key)) return false;
                seen.add(key);
            }
            return true;
        };
    }
    const fixedName = fixedNameRule.exec(normalized);
    if (fixedName) return (data) => (data as { metadata?: { name?: unknown } })?.metadata?.name === fixedName[1];
    return undefined; // transition rules (oldSelf) and anything else: not evaluated offline
}

/** Subschemas bigger than this (serialized) are compiled only when an object actually has that field. */
const lazyThresholdChars = 4000;
const lazySchemas = new Map<string, Schema>();
const lazyValidators = new Map<string, ValidateFunction>();

/**
 * Replaces big property/item subschemas by `{"x-lazy": id}`: CRD schemas are large (a v1beta2 Cluster's
 * `spec.topology` alone takes ajv ~250 ms to compile) and our objects use a small part of them, so each
 * big subtree is compiled on first use, and lazified the same way in turn.
 */
function lazify(node: Schema, id: string): Schema {
    const out: Schema = { ...node };
    const wrap = (child: Schema, childId: string): Schema => {
        if (JSON.stringify(child).length <= lazyThresholdChars) return lazify(child, childId);
        lazySchemas.set(childId, child);
        return { "x-lazy": childId };
    };
    if (node.properties) {
        out.properties = Object.fromEntries(
            Object.entries(node.properties as Record<string, Schema>).map(([k, v]) => [k, wrap(v, `${id}/properties/${k}`)]),
        );
    }
    if (node.items && typeof node.items === "object") out.items = wrap(node.items as Schema, `${id}/items`);
    if (node.additionalProperties && typeof node.additionalProperties === "object") {
        out.additionalProperties = wrap(node.additionalProperties as Schema, `${id}/additionalProperties`);
    }
    return out;
}

function lazyValidator(id: string): ValidateFunction {
    let validate = lazyValidators.get(id);
    if (!validate) {
        const schema = lazySchemas.get(id);
        if (!schema) throw new Error(`validator: no schema ${id}`);
        validate = ajv().compile(lazify(schema, id));
        lazyValidators.set(id, validate);
    }
    return validate;
}

interface KeywordContext {
    instancePath: string;
    rootData: unknown;
}

function keywordError(keyword: string, ctx: KeywordContext | undefined, message: string, params: Record<string, unknown>): ErrorObject {
    return { keyword, instancePath: ctx?.instancePath ?? "", schemaPath: "", params, message };
}

let ajvInstance: Ajv | undefined;

function ajv(): Ajv {
    if (ajvInstance) return ajvInstance;
    // Kubernetes patterns are RE2, not Unicode-mode JS; formats are advisory in CRDs.
    const instance = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false, validateFormats: false, code: { optimize: false } });
    instance.addKeyword({
        keyword: "x-lazy",
        errors: true,
        validate: function validateLazy(id: string, data: unknown, _schema?: unknown, ctx?: KeywordContext): boolean {
            const validate = lazyValidator(id);
            if (validate(data)) return true;
            (validateLazy as unknown as { errors: ErrorObject[] }).errors = (validate.errors ?? []).map((e) => ({
                ...e,
                instancePath: (ctx?.instancePath ?? "") + e.instancePath,
            }));
            return false;
        },
    });
    instance.addKeyword({
        keyword: "x-kubernetes-validations",
        errors: true,
        validate: function validateCel(rules: Array<{ rule: string; message?: string }>, data: unknown, _schema?: unknown, ctx?: KeywordContext): boolean {
            const failures: ErrorObject[] = [];
            for (const { rule, message } of rules) {
                const check = celCheck(rule);
                if (check && !check(data, ctx?.rootData)) {
                    failures.push(keywordError("x-kubernetes-validations", ctx, message ?? `failed rule ${rule}`, { rule }));
                }
            }
            (validateCel as unknown as { errors: ErrorObject[] }).errors = failures;
            return failures.length === 0;
        },
    });
    instance.addKeyword({
        keyword: "x-kubernetes-list-map-keys",
        errors: true,
        validate: function validateMapKeys(keys: string[], data: unknown, _schema?: unknown, ctx?: KeywordContext): boolean {
            if (!Array.isArray(data)) return true;
            const seen = new Set<string>();
            for (const item of data) {
                const id = JSON.stringify(keys.map((k) => (item as Record<string, unknown>)?.[k]));
                if (seen.has(id)) {
                    (validateMapKeys as unknown as { errors: ErrorObject[] }).errors = [
                        keywordError("x-kubernetes-list-map-keys", ctx, `duplicate entry for list-map key ${id}`, { keys }),
                    ];
                    return false;
                }
                seen.add(id);
            }
            return true;
        },
    });
    ajvInstance = instance;
    return instance;
}

const compiled = new Map<string, ValidateFunction>();

function schemaValidator(key: string, schema: AnySchemaObject): ValidateFunction {
    let validate = compiled.get(key);
    if (!validate) {
        const root = adapt(schema, true);
        // metadata is validated as ObjectMeta separately; CRD schemas only say `type: object`.
        root.properties = { ...((root.properties as Schema | undefined) ?? {}), metadata: { type: "object" } };
        validate = ajv().compile(lazify(root, key));
        compiled.set(key, validate);
    }
    return validate;
}

function formatAjvError(e: ErrorObject): string {
    const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, ".") : "(root)";
    switch (e.keyword) {
        case "additionalProperties":
            return `${where}: unknown field ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}`;
        case "enum":
            return `${where}: ${e.message} ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
        default:
            return `${where}: ${e.message}`;
    }
}

// ---------------------------------------------------------------------------------------------------
// ObjectMeta.

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const knownMetadataFields = new Set([
    "name", "generateName", "namespace", "labels", "annotations", "ownerReferences", "finalizers", "uid",
    "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
    "managedFields", "selfLink",
]);
/** Kinds whose names are path segments rather than DNS subdomains (RBAC allows `system:…`). */
const pathSegmentNameKinds = new Set(["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]);
const clusterScopedCoreKinds = new Set([
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass", "CSIDriver", "CSINode",
    "PriorityClass", "RuntimeClass", "IngressClass", "CustomResourceDefinition", "APIService",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
]);

function qualifiedKeyErrors(key: string): string | undefined {
    const slash = key.lastIndexOf("/");
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !dns1123Subdomain.test(prefix))) {
        return `key ${JSON.stringify(key)}: prefix must be a DNS subdomain of at most 253 characters`;
    }
    if (name.length === 0 || name.length > 63 || !qualifiedNamePart.test(name)) {
        return `key ${JSON.stringify(key)}: name part must be 1-63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
    }
    return undefined;
}

export function validateMetadata(kind: string, metadata: unknown, clusterScoped: boolean | undefined): string[] {
    const errors: string[] = [];
    if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return ["metadata: must be an object"];
    const m = metadata as Record<string, unknown>;
    for (const key of Object.keys(m)) if (!knownMetadataFields.has(key)) errors.push(`metadata: unknown field ${JSON.stringify(key)}`);
    if (typeof m.name !== "string" || m.name === "") {
        if (typeof m.generateName !== "string") errors.push("metadata.name: required");
    } else if (pathSegmentNameKinds.has(kind)) {
        if (m.name === "." || m.name === ".." || /[/%]/.test(m.name)) errors.push(`metadata.name: ${JSON.stringify(m.name)} may not be '.', '..' or contain '/' or '%'`);
    } else if (kind === "Namespace") {
        if (m.name.length > 63 || !dns1123Label.test(m.name)) errors.push(`metadata.name: ${JSON.stringify(m.name)} is not a DNS-1123 label`);
    } else if (m.name.length > 253 || !dns1123Subdomain.test(m.name)) {
        errors.push(`metadata.name: ${JSON.stringify(m.name)} is not a DNS-1123 subdomain (lowercase alphanumerics, '-', '.'; at most 253)`);
    }
    if (m.namespace !== undefined) {
        if (clusterScoped) errors.push(`metadata.namespace: ${kind} is cluster-scoped`);
        else if (typeof m.namespace !== "string" || m.namespace.length > 63 || !dns1123Label.test(m.namespace)) {
            errors.push(`metadata.namespace: ${JSON.stringify(m.namespace)} is not a DNS-1123 label`);
        }
    }
    for (const field of ["labels", "annotations"] as const) {
        const map = m[field];
        if (map === undefined) continue;
        if (typeof map !== "object" || map === null || Array.isArray(map)) {
            errors.push(`metadata.${field}: must be a map of strings`);
            continue;
        }
        let size = 0;
        for (const [key, value] of Object.entries(map)) {
            const keyError = qualifiedKeyErrors(key);
            if (keyError) errors.push(`metadata.${field}: ${keyError}`);
            if (typeof value !== "string") {
                errors.push(`metadata.${field}[${JSON.stringify(key)}]: must be a string`);
                continue;
            }
            size += key.length + value.length;
            if (field === "labels" && value !== "" && (value.length > 63 || !qualifiedNamePart.test(value))) {
                errors.push(`metadata.labels[${JSON.stringify(key)}]: value ${JSON.stringify(value)} must be empty or 1-63 alphanumerics, '-', '_' or '.'`);
            }
        }
        if (field === "annotations" && size > 256 * 1024) errors.push("metadata.annotations: total size exceeds 256 KiB");
    }
    return errors;
}

// ---------------------------------------------------------------------------------------------------
// Core objects.

/** Top-level fields of the core kinds whose unknown top-level fields we can reject. */
const coreTopLevelFields: Record<string, string[]> = {
    ConfigMap: ["data", "binaryData", "immutable"],
    Secret: ["data", "stringData", "type", "immutable"],
    Namespace: ["spec", "status"],
    ServiceAccount: ["secrets", "imagePullSecrets", "automountServiceAccountToken"],
    Role: ["rules"],
    ClusterRole: ["rules", "aggregationRule"],
    RoleBinding: ["roleRef", "subjects"],
    ClusterRoleBinding: ["roleRef", "subjects"],
    Deployment: ["spec", "status"],
    DaemonSet: ["spec", "status"],
    StatefulSet: ["spec", "status"],
    Service: ["spec", "status"],
    Job: ["spec", "status"],
    PodDisruptionBudget: ["spec", "status"],
};

const dataKey = /^[-._a-zA-Z0-9]+$/;
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function coreDataErrors(kind: string, obj: Record<string, unknown>): string[] {
    const errors: string[] = [];
    if (kind !== "ConfigMap" && kind !== "Secret") return errors;
    let size = 0;
    for (const field of ["data", "binaryData", "stringData"]) {
        const map = obj[field] as Record<string, unknown> | undefined;
        if (!map) continue;
        for (const [key, value] of Object.entries(map)) {
            if (!dataKey.test(key) || key.length > 253) errors.push(`${field}: key ${JSON.stringify(key)} must consist of alphanumerics, '-', '_' or '.'`);
            if (typeof value !== "string") continue;
            if ((field === "binaryData" || (kind === "Secret" && field === "data")) && !base64.test(value)) {
                errors.push(`${field}[${JSON.stringify(key)}]: must be base64`);
            }
            size += key.length + (field === "data" && kind === "ConfigMap" ? Buffer.byteLength(value) : field === "stringData" ? Buffer.byteLength(value) : Math.floor((value.length * 3) / 4));
        }
    }
    if (size > 1024 * 1024) errors.push(`${kind} data is ${size} bytes, over the 1 MiB limit`);
    return errors;
}

type CoreModel = new (data: unknown) => { validate(): void };
const requireModel = createRequire(__filename);

/** The kubernetes-models class of a core kind (`kubernetes-models/<apiVersion>/<Kind>`), if there is one. */
function loadCoreModel(apiVersion: string, kind: string): CoreModel | undefined {
    if (!/^[A-Za-z0-9.]+(\/[A-Za-z0-9]+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined;
    let mod: Record<string, unknown>;
    try {
        mod = requireModel(`kubernetes-models/${apiVersion}/${kind}`) as Record<string, unknown>;
    } catch {
        return undefined;
    }
    const cls = mod[kind] as unknown;
    if (typeof cls !== "function") return undefined;
    const statics = cls as unknown as { apiVersion?: string; kind?: string };
    if (statics.apiVersion !== apiVersion || statics.kind !== kind) return undefined;
    return cls as CoreModel;
}

function validateCore(obj: Record<string, unknown>, apiVersion: string, kind: string): string[] {
    const Model = loadCoreModel(apiVersion, kind);
    if (!Model) return [`${apiVersion} ${kind}: unknown kind (neither a core Kubernetes kind nor a CRD in ${crdsDir()})`];
    const errors: string[] = [];
    const allowed = coreTopLevelFields[kind];
    if (allowed) {
        for (const key of Object.keys(obj)) {
            if (!["apiVersion", "kind", "metadata", ...allowed].includes(key)) errors.push(`(root): unknown field ${JSON.stringify(key)}`);
        }
    }
    try {
        new Model(obj).validate();
    } catch (err) {
        const details = (err as { errors?: ErrorObject[] }).errors;
        if (details?.length) errors.push(...details.map(formatAjvError));
        else errors.push((err as Error).message);
    }
    errors.push(...coreDataErrors(kind, obj));
    return errors;
}

// ---------------------------------------------------------------------------------------------------

/** Errors of one object; empty when valid. */
export function validateObject(obj: unknown, options: ValidateOptions = {}): string[] {
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return ["not an object"];
    const o = obj as Record<string, unknown>;
    if (typeof o.apiVersion !== "string" || !o.apiVersion) return ["apiVersion: required"];
    if (typeof o.kind !== "string" || !o.kind) return ["kind: required"];
    const apiVersion = o.apiVersion;
    const kind = o.kind;
    const slash = apiVersion.indexOf("/");
    const group = slash >= 0 ? apiVersion.slice(0, slash) : "";
    const version = slash >= 0 ? apiVersion.slice(slash + 1) : apiVersion;

    const { files, groups } = crdIndex();
    if (group && groups.has(group)) {
        const file = files.get(`${group}/${kind}`);
        if (!file) return [`${apiVersion} ${kind}: no CustomResourceDefinition for kind ${kind} in group ${group}`];
        const crd = loadCrd(file);
        const v = crd.spec.versions.find((entry) => entry.name === version);
        if (!v) {
            return [`${apiVersion} ${kind}: version ${version} does not exist (CRD has ${crd.spec.versions.map((x) => x.name).join(", ")})`];
        }
        if (!v.served) return [`${apiVersion} ${kind}: version ${version} is not served`];
        const errors: string[] = [];
        if (v.deprecated && !options.allowDeprecated) errors.push(`${apiVersion} ${kind}: version ${version} is deprecated`);
        errors.push(...validateMetadata(kind, o.metadata, crd.spec.scope === "Cluster"));
        const schema = v.schema?.openAPIV3Schema;
        if (!schema) return [...errors, `${apiVersion} ${kind}: the CRD has no schema for ${version}`];
        const validate = schemaValidator(`${group}/${version}/${kind}`, schema);
        if (!validate(obj)) errors.push(...(validate.errors ?? []).map(formatAjvError));
        return errors;
    }
    return [...validateMetadata(kind, o.metadata, clusterScopedCoreKinds.has(kind)), ...validateCore(o, apiVersion, kind)];
}

/** Errors of several objects, each prefixed with the object's identity. */
export function validateObjects(objects: unknown[], options: ValidateOptions = {}): string[] {
    return objects.flatMap((obj, i) => {
        const o = obj as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
        const id = `${String(o?.kind ?? "?")} ${o?.metadata?.namespace ? `${String(o.metadata.namespace)}/` : ""}${String(o?.metadata?.name ?? `#${i + 1}`)}`;
        return validateObject(obj, options).map((e) => `${id}: ${e}`);
    });
}

/** Errors of every document of a multi-document YAML text. */
export function validateYaml(text: string, options: ValidateOptions = {}): string[] {
    let docs: unknown[];
    try {
        docs = yaml.loadAll(text).filter((d) => d !== null && d !== undefined);
    } catch (err) {
        return [`invalid YAML: ${(err as Error).message}`];
    }
    return validateObjects(docs, options);
}
