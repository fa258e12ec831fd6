// The program's side of configuration: what the Pulumi runtime hands over, through the same parser the
// offline tools use. Invalid config stops the program before any resource exists, listing every problem.
import * as pulumi from "@pulumi/pulumi";
import { parseConfig } from "./config";
import { repoRoot } from "./stackFiles";
import { EnvironmentSpec } from "./spec";
import { EnvironmentSecrets } from "./environment";

// Not in the SDK's typings, but exported: whether a config key holds a secret.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

export function readProgramConfig(): EnvironmentSpec {
    const values = pulumi.runtime.allConfig();
    const secretKeys = new Set(Object.keys(values).filter((key) => isConfigSecret(key)));
    const result = parseConfig({ values, secretKeys }, pulumi.getStack(), repoRoot);
    if (!result.ok) {
        throw new pulumi.RunError(`invalid configuration of stack '${pulumi.getStack()}' (${result.errors.length} problem${result.errors.length === 1 ? "" : "s"}):\n  - ${result.errors.join("\n  - ")}`);
    }
    return result.spec;
}

export function readSecrets(spec: EnvironmentSpec): EnvironmentSecrets {
    const config = new pulumi.Config();
    const secret = (key: string) => config.getSecret(key);
    const sopsAgeKey = spec.secrets.sopsAgeKey ? secret("sopsAgeKey") : undefined;
    const git = spec.secrets.gitCredentials
        ? pulumi.all([secret("gitPassword"), secret("gitSshIdentity")]).apply(([password, identity]) => ({
              username: config.get("gitUsername") || undefined,
              password: password || undefined,
              identity: identity || undefined,
              knownHosts: config.get("gitKnownHosts") || undefined,
          }))
        : undefined;
    const aws = spec.secrets.awsCredentials
        ? pulumi.all([secret("awsAccessKeyId"), secret("awsSecretAccessKey"), secret("awsSessionToken")]).apply(([accessKeyId, secretAccessKey, sessionToken]) => ({
              accessKeyId: accessKeyId ?? "",
              secretAccessKey: secretAccessKey ?? "",
              sessionToken: sessionToken || undefined,
          }))
        : undefined;
    return {
        sopsAgeKey: sopsAgeKey?.apply((v) => v ?? ""),
        git: git && pulumi.secret(git),
        aws: aws && pulumi.secret(aws),
    };
}
