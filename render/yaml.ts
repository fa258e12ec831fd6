// Deterministic YAML for everything the project writes or compares: the fleet repository files,
// ConfigMap payloads of ClusterResourceSets, Helm values templates. One set of options, so the
// same objects always give the same bytes.
import * as yaml from "js-yaml";

import type { K8sObject } from "./types";

/** The only dump options used in the project: no line folding, no anchors, construction order kept. */
const dumpOptions: yaml.DumpOptions = {
    lineWidth: -1,
    noRefs: true,
    sortKeys: false,
};

/** One YAML document, ending in a newline. */
export function dumpYaml(value: unknown): string {
    return yaml.dump(value, dumpOptions);
}

/** Multi-document YAML: each object dumped with fixed options, separated by `---` lines. */
export function toYaml(objects: readonly unknown[]): string {
    return objects.map(dumpYaml).join("---\n");
}

/** Parses multi-document YAML, skipping empty documents. */
export function parseYamlDocuments(text: string): unknown[] {
    return yaml.loadAll(text).filter((doc) => doc !== null && doc !== undefined);
}

export function isK8sObject(value: unknown): value is K8sObject {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
    const v = value as Record<string, unknown>;
    const meta = v.metadata as Record<string, unknown> | undefined;
    return typeof v.apiVersion === "string" && typeof v.kind === "string" && typeof meta?.name === "string";
}

/**
 * A copy of a string map with its keys in code-point order. Every map that comes from configuration
 * (labels, annotations, selectors, tags, ConfigMap data) goes through this, so reordering keys in the
 * stack configuration never changes a rendered byte.
 */
export function sortedRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
    const out: Record<string, T> = {};
    for (const key of Object.keys(record).sort(compareCodePoints)) out[key] = record[key];
    return out;
}

/** Locale-independent string ordering (Array.prototype.sort's default, spelled out). */
export function compareCodePoints(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}
