// Reads a stack's configuration the way the Pulumi CLI hands it to the program (Pulumi.yaml defaults,
// then Pulumi.<stack>.yaml, then overrides), for the tools that run without the CLI: plan, render, bench.
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { ConfigResult, parseConfig, RawConfig } from "./config";
import { projectName, secretKeys } from "./schema";

export const repoRoot = path.resolve(__dirname, "..");

const qualify = (key: string) => (key.includes(":") ? key : `${projectName}:${key}`);
/** Pulumi passes every config value as a string; objects and arrays as JSON. */
const asConfigString = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));
const isSecure = (value: unknown) => typeof value === "object" && value !== null && "secure" in value;
const secretKeyNames = new Set(Object.keys(secretKeys).map(qualify));

const isMap = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A Pulumi project or stack file as a map. The YAML 1.2 core schema, as Go's yaml.v3 reads these files
 * (no timestamps: `2026-01-01` stays a string). A file that does not parse is named with its line.
 */
function readYaml(file: string, expected: string): Record<string, unknown> {
    const shown = path.relative(process.cwd(), file) || file;
    let content: unknown;
    try {
        content = yaml.load(fs.readFileSync(file, "utf8"), { schema: yaml.CORE_SCHEMA, filename: shown });
    } catch (err) {
        if (!(err instanceof yaml.YAMLException)) throw err;
        throw new Error(`${shown}:${err.mark.line + 1}:${err.mark.column + 1}: not valid YAML (${err.reason}); fix the file: it must be ${expected}`);
    }
    if (content === null || content === undefined) return {};
    if (!isMap(content)) throw new Error(`${shown}: got a YAML ${Array.isArray(content) ? "list" : typeof content}; expected ${expected}`);
    if ("config" in content && content.config !== null && !isMap(content.config)) throw new Error(`${shown}: 'config' is not a map; expected ${expected}`);
    return content;
}

const stackFileShape = "a YAML map with a 'config:' map of keys to values";

/** A key's declaration in Pulumi.yaml's `config:` block. */
interface ConfigDeclaration {
    type?: string;
    items?: ConfigDeclaration;
    default?: unknown;
    value?: unknown;
    secret?: boolean;
}

/**
 * The value Pulumi's type check sees: a scalar as its text (config.Value), a list or map as parsed JSON,
 * and an empty value (`key:`) as "" (yaml.v3 leaves a null's Value at its zero value).
 */
function pulumiContent(value: unknown): unknown {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return JSON.stringify(value);
    return JSON.parse(JSON.stringify(value));
}

const int64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

/**
 * Pulumi's `ValidateConfigValue` (sdk/v3 go/common/workspace/project.go, v3.274.1): string: a string;
 * integer: a whole number or a string `strconv.Atoi` parses; boolean: a bool or the string "true" or
 * "false"; object: a map; array: a list whose items all match `items`.
 */
function pulumiTypeMatches(declaration: ConfigDeclaration, content: unknown): boolean {
    switch (declaration.type) {
        case "string":
            return typeof content === "string";
        case "integer":
            if (typeof content === "number") return Number.isInteger(content);
            if (typeof content !== "string" || !/^[+-]?\d+$/.test(content)) return false;
            return BigInt(content) >= int64.min && BigInt(content) <= int64.max;
        case "boolean":
            return typeof content === "boolean" || content === "true" || content === "false";
        case "object":
            return isMap(content);
        default:
            return Array.isArray(content) && declaration.items !== undefined && content.every((item) => pulumiTypeMatches(declaration.items!, item));
    }
}

/** Pulumi's `InferFullTypeName`: `array<string>` for a list of strings. */
const pulumiTypeName = (d: ConfigDeclaration): string => (d.items ? `array<${pulumiTypeName(d.items)}>` : String(d.type));

const typeFixes: Record<string, string> = {
    string: "write it as text: a YAML list or map inside a block scalar (`key: |`, the YAML indented on the lines below)",
    integer: "write a whole number, e.g. 3",
    boolean: "write true or false",
    object: "write a YAML map",
};

/**
 * What the Pulumi CLI checks before the program runs, exactly (pkg/v3 workspace/config.go `mergeConfig`
 * and `validateStackConfigValue`, v3.274.1): every key declared without a default is set, a key declared
 * `secret` is encrypted, and every set value has its declared type. Pulumi stops at the first problem;
 * these are all of them, each with Pulumi's own message, where the value came from and the fix. An
 * encrypted value cannot be read here: only its presence counts.
 */
function pulumiConfigErrors(stack: string, declarations: Record<string, ConfigDeclaration>, set: Map<string, { value: unknown; from: string }>): string[] {
    const errors: string[] = [];
    const missing = Object.keys(declarations).sort().filter((key) => !set.has(qualify(key)) && !("default" in declarations[key]) && !("value" in declarations[key]));
    if (missing.length > 0) {
        const names = missing.map((key) => `'${key}'`).join(", ");
        errors.push(`${missing.map(qualify).join(", ")}: Stack '${stack}' is missing configuration value${missing.length > 1 ? "s" : ""} ${names}; set ${missing.length > 1 ? "them" : "it"} with \`pulumi config set -s ${stack} <key> <value>\` or in Pulumi.${stack}.yaml`);
    }
    for (const key of Object.keys(declarations).sort()) {
        const declaration = declarations[key];
        const entry = set.get(qualify(key));
        if (!entry || declaration.type === undefined) continue;
        if (declaration.secret && !isSecure(entry.value)) {
            errors.push(`${qualify(key)} (${entry.from}): Stack '${stack}' with configuration key '${key}' must be encrypted as it's secret; set it with \`pulumi config set --secret ${key}\``);
            continue;
        }
        if (isSecure(entry.value)) continue;
        if (!pulumiTypeMatches(declaration, pulumiContent(entry.value))) {
            const got = entry.value === null ? "an empty value" : Array.isArray(entry.value) ? "a YAML list" : isMap(entry.value) ? "a YAML map" : JSON.stringify(entry.value);
            const fix = typeFixes[declaration.type] ?? `write a YAML list of ${pulumiTypeName(declaration.items ?? {})} values`;
            errors.push(`${qualify(key)} (${entry.from}): Stack '${stack}' with configuration key '${key}' must be of type '${pulumiTypeName(declaration)}' (got ${got}): ${fix}`);
        }
    }
    return errors;
}

export function stackConfigFile(stack: string, root = repoRoot): string {
    return path.join(root, `Pulumi.${stack}.yaml`);
}

/**
 * Raw config of a stack. Encrypted values cannot be read without the stack's passphrase: they count as
 * present secrets (`opaqueKeys`). Override values for secret keys are treated as secrets. What the
 * Pulumi CLI itself would refuse is in `refusedByPulumi`.
 */
export function loadRawConfig(stack: string, overrides: Record<string, unknown> = {}, root = repoRoot): RawConfig {
    const values: Record<string, string> = {};
    const secrets = new Set<string>();
    const opaque = new Set<string>();

    const project = readYaml(path.join(root, "Pulumi.yaml"), "a Pulumi project file (name, runtime, config)");
    const declarations = (project.config ?? {}) as Record<string, ConfigDeclaration>;
    for (const [key, declaration] of Object.entries(declarations)) {
        if (declaration && typeof declaration === "object" && "default" in declaration) values[qualify(key)] = asConfigString(declaration.default);
    }

    const file = stackConfigFile(stack, root);
    if (!fs.existsSync(file)) throw new Error(`stack '${stack}' has no ${path.basename(file)}: copy Pulumi.local.yaml or Pulumi.staging.yaml to create an environment`);
    const stackValues = Object.entries((readYaml(file, stackFileShape).config ?? {}) as Record<string, unknown>);
    const set = new Map<string, { value: unknown; from: string }>();
    for (const [key, value] of stackValues) set.set(qualify(key), { value, from: path.basename(file) });
    for (const [key, value] of Object.entries(overrides)) set.set(qualify(key), { value, from: "the --config-file overrides" });
    const refusedByPulumi = pulumiConfigErrors(stack, declarations, set);

    for (const [key, value] of stackValues) {
        const full = qualify(key);
        if (isSecure(value)) {
            opaque.add(full);
            secrets.add(full);
            values[full] = "[secret]"; // stands in for the value, which never leaves the stack's encryption

        } else values[full] = asConfigString(value);
    }

    for (const [key, value] of Object.entries(overrides)) {
        const full = qualify(key);
        values[full] = asConfigString(value);
        opaque.delete(full);
        if (secretKeyNames.has(full)) secrets.add(full);
    }
    return { values, secretKeys: secrets, opaqueKeys: opaque, refusedByPulumi };
}

/** Reads an overrides file (`--config-file`): a YAML map of config keys to values. */
export function readOverrides(file: string): Record<string, unknown> {
    return readYaml(file, "a YAML map of config keys to values");
}

/** The validated spec of a stack, exactly as the program builds it. */
export function loadStackSpec(stack: string, overrides: Record<string, unknown> = {}, root = repoRoot): ConfigResult {
    return parseConfig(loadRawConfig(stack, overrides, root), stack, root);
}
