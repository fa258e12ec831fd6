// The value of `AWS_B64ENCODED_CREDENTIALS`, which `clusterctl init --infrastructure aws` puts into
// CAPA's `capa-manager-bootstrap-credentials` Secret. Pure: the caller keeps the result secret
// (components/awsIam.ts wraps it in `pulumi.secret`).
import { AwsCredentials } from "../stacks/spec";

/**
 * What `clusterawsadm bootstrap credentials encode-as-profile` prints: base64 of the `[default]`
 * profile rendered by CAPA's Go template (kubernetes-sigs/cluster-api-provider-aws,
 * `cmd/clusterawsadm/credentials/credentials.go`, `AWSCredentialsTemplate` +
 * `RenderBase64EncodedAWSDefaultProfile`, unchanged through v2.11):
 *
 *     [default]
 *     aws_access_key_id = {{ .AccessKeyID }}
 *     aws_secret_access_key = {{ .SecretAccessKey }}
 *     region = {{ .Region }}
 *     {{if .SessionToken }}
 *     aws_session_token = {{ .SessionToken }}
 *     {{end}}
 *
 * followed by a newline. The template's line breaks around `{{if}}`/`{{end}}` are kept, so the
 * profile ends in an empty line, and a session token sits after one (as in CAPA's
 * `docs/book/src/topics/using-iam-roles-in-mgmt-cluster.md`). Byte-identical output keeps the
 * Secret identical to one made by clusterawsadm.
 */
export function encodeCapaCredentials(creds: AwsCredentials, region: string): string {
    const fields: Array<[string, string]> = [
        ["accessKeyId", creds.accessKeyId],
        ["secretAccessKey", creds.secretAccessKey],
        ["region", region],
    ];
    if (creds.sessionToken) fields.push(["sessionToken", creds.sessionToken]);
    for (const [name, value] of fields) {
        // A line break would inject lines into the INI profile; CAPA does not check, we do.
        if (value === "" || /[\r\n]/.test(value)) {
            throw new Error(`AWS credentials: ${name} is empty or spans lines`);
        }
    }
    let profile =
        "[default]\n" +
        `aws_access_key_id = ${creds.accessKeyId}\n` +
        `aws_secret_access_key = ${creds.secretAccessKey}\n` +
        `region = ${region}\n`;
    if (creds.sessionToken) profile += `\naws_session_token = ${creds.sessionToken}\n`;
    profile += "\n";
    return Buffer.from(profile, "utf8").toString("base64");
}

/**
 * base64 of a single newline: an empty profile. What `clusterctl init` gets on the permanent cluster
 * (CAPA book, "Using IAM roles in management cluster"), so CAPA's credentials Secret is empty and the
 * controller falls back to the instance profile of the node it runs on.
 */
export const ZERO_CREDENTIALS = "Cg==";
