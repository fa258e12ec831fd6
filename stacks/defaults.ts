// What differs per infrastructure provider when the stack does not say. Everything else has its
// default in Pulumi.yaml, where `pulumi config` shows it.
import { InfrastructureProvider } from "./spec";

export interface ProviderDefaults {
    /** clusterctl provider name, as in `--infrastructure <name>:<version>`. */
    clusterctlName: string;
    /** Version of the infrastructure provider when `infrastructureProviderVersion` is unset, given the Cluster API version. */
    infrastructureProviderVersion(clusterApiVersion: string): string | undefined;
    /** Machine type when the stack sets none; undefined = the stack must set one. */
    machineType?: string;
}

export const providerDefaults: Record<InfrastructureProvider, ProviderDefaults> = {
    // CAPD is released with Cluster API itself, at the same version.
    docker: { clusterctlName: "docker", infrastructureProviderVersion: (capi) => capi, machineType: "docker" },
    // CAPA has its own release line (v2.11.x is built against Cluster API v1.11): the stack pins it.
    aws: { clusterctlName: "aws", infrastructureProviderVersion: () => undefined },
};
