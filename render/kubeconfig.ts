// The management kubeconfig the stack keeps: Cluster API issues its client certificate for a year. The
// program reads the certificate's expiry at every preview and up (the kubeconfig is in state, no cluster
// is contacted) and refuses an expired one, or warns before it expires, with what to run.
import { X509Certificate } from "crypto";

/** Expiry of the kubeconfig's first client certificate (`client-certificate-data`), if it has one. */
export function clientCertificateExpiry(kubeconfig: string): Date | undefined {
    const match = /client-certificate-data:\s*["']?([A-Za-z0-9+/=]+)/.exec(kubeconfig);
    if (!match) return undefined;
    try {
        return new Date(new X509Certificate(Buffer.from(match[1], "base64")).validTo);
    } catch {
        return undefined;
    }
}

export interface CredentialCheck {
    problem: "expired" | "expiring";
    message: string;
}

/** How to get a current kubeconfig of the management cluster and hand it to the stack. */
export function renewalCommands(environment: string, clusterName: string, provider: "docker" | "aws"): string {
    const file = `~/.fleet-bootstrap/${environment}/${clusterName}.kubeconfig`;
    const fetch =
        provider === "docker"
            ? `(umask 077; kind get kubeconfig --name ${clusterName} > ${file})`
            : `write a current admin kubeconfig of it to ${file} (e.g. from a control-plane node: sudo cat /etc/kubernetes/admin.conf, with the server set to the cluster's API endpoint)`;
    return `${fetch}; pulumi config set -s ${environment} fleet-bootstrap:adoptExistingManagementCluster ${file}; pulumi up -s ${environment} (the management step then reads the cluster's own rotated ${clusterName}-kubeconfig Secret through it and the stack keeps that)`;
}

/** An expired certificate, or one expiring within `warnDays`, with what to run; undefined when current. */
export function checkManagementCredential(kubeconfig: string, now: Date, renewal: string, warnDays = 30): CredentialCheck | undefined {
    const expiry = clientCertificateExpiry(kubeconfig);
    if (!expiry) return undefined;
    const days = Math.floor((expiry.getTime() - now.getTime()) / 86_400_000);
    if (expiry <= now) {
        return { problem: "expired", message: `the management cluster kubeconfig kept by this stack expired on ${expiry.toISOString()} (Cluster API issues its client certificate for a year). To continue: ${renewal}` };
    }
    if (days < warnDays) {
        return { problem: "expiring", message: `the management cluster kubeconfig kept by this stack expires on ${expiry.toISOString()} (in ${days} days). Renew it before then: ${renewal}` };
    }
    return undefined;
}
