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

function readYaml(file: string): Record<string, unknown> {
    return (yaml.load(fs.readFileSync(file, "utf8")) as Record<string, unknown> | undefined) ?? {};
}

export function stackConfigFile(stack: string, root = repoRoot): string {
    return path.join(root, `Pulumi.${stack}.yaml`);
}

/**
 * Raw config of a stack. Encrypted values cannot be read without the stack's passphrase: they count as
 * present secrets (`opaqueKeys`). Override values for secret keys are treated as secrets.
 */
export function loadRawConfig(stack: string, overrides: Record<string, unknown> = {}, root = repoRoot): RawConfig {
    const values: Record<string, string> = {};
    const secrets = new Set<string>();
    const opaque = new Set<string>();

    const project = readYaml(path.join(root, "Pulumi.yaml"));
    for (const [key, declaration] of Object.entries((project.config ?? {}) as Record<string, { default?: unknown }>)) {
        if (declaration && typeof declaration === "object" && "default" in declaration) values[qualify(key)] = asConfigString(declaration.default);
    }

    const file = stackConfigFile(stack, root);
    if (!fs.existsSync(file)) throw new Error(`stack '${stack}' has no ${path.basename(file)}: copy Pulumi.local.yaml or Pulumi.staging.yaml to create an environment`);
    for (const [key, value] of Object.entries((readYaml(file).config ?? {}) as Record<string, unknown>)) {
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
    return { values, secretKeys: secrets, opaqueKeys: opaque };
}

/** Reads an overrides file (`--config-file`): a YAML map of config keys to values. */
export function readOverrides(file: string): Record<string, unknown> {
    const content = yaml.load(fs.readFileSync(file, "utf8"));
    if (content === null || content === undefined) return {};
    if (typeof content !== "object" || Array.isArray(content)) throw new Error(`${file}: expected a YAML map of config keys to values`);
    return content as Record<string, unknown>;
}

/** The validated spec of a stack, exactly as the program builds it. */
export function loadStackSpec(stack: string, overrides: Record<string, unknown> = {}, root = repoRoot): ConfigResult {
    return parseConfig(loadRawConfig(stack, overrides, root), stack, root);
}
