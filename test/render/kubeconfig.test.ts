// The management credential the stack keeps: expired refused, expiring warned, both with what to run.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { checkManagementCredential, clientCertificateExpiry, renewalCommands } from "../../render/kubeconfig";

// A client certificate made for this test (openssl req -x509 -days 365; no key kept): valid until 2027-12-01T10:15:42Z.
const pem = fs.readFileSync(path.join(__dirname, "..", "fixtures", "client-certificate.pem"), "utf8");
const kubeconfig = [
    "apiVersion: v1",
    "kind: Config",
    "users:",
    "- name: mgmt-admin",
    "  user:",
    `    client-certificate-data: ${Buffer.from(pem).toString("base64")}`,
    "    client-key-data: RkFLRQ==",
].join("\n");
const expiry = new Date("2027-12-01T10:15:42Z");
const day = 86_400_000;
const renewal = renewalCommands("local", "mgmt", "docker");

describe("the kept management kubeconfig", () => {
    it("has the expiry of its client certificate", () => {
        assert.deepStrictEqual(clientCertificateExpiry(kubeconfig), expiry);
        assert.strictEqual(clientCertificateExpiry("users:\n- name: x\n  user:\n    token: abc\n"), undefined);
    });

    it("expired: refused, saying when and what to run; expiring within 30 days: a warning; else nothing", () => {
        const expired = checkManagementCredential(kubeconfig, new Date(expiry.getTime() + day), renewal);
        assert.strictEqual(expired?.problem, "expired");
        assert.match(expired.message, /expired on 2027-12-01T10:15:42\.000Z .*To continue: \(umask 077; kind get kubeconfig --name mgmt > ~\/\.fleet-bootstrap\/local\/mgmt\.kubeconfig\); pulumi config set -s local fleet-bootstrap:adoptExistingManagementCluster ~\/\.fleet-bootstrap\/local\/mgmt\.kubeconfig; pulumi up -s local/);
        const expiring = checkManagementCredential(kubeconfig, new Date(expiry.getTime() - 10 * day), renewal);
        assert.strictEqual(expiring?.problem, "expiring");
        assert.match(expiring.message, /expires on 2027-12-01T10:15:42\.000Z \(in 10 days\)\. Renew it before then: /);
        assert.strictEqual(checkManagementCredential(kubeconfig, new Date(expiry.getTime() - 100 * day), renewal), undefined);
    });

    it("on AWS, says where a current kubeconfig comes from", () => {
        assert.match(renewalCommands("staging", "mgmt", "aws"), /sudo cat \/etc\/kubernetes\/admin\.conf.*fleet-bootstrap:adoptExistingManagementCluster ~\/\.fleet-bootstrap\/staging\/mgmt\.kubeconfig/);
    });
});
