// encodeCapaCredentials: byte-for-byte what `clusterawsadm bootstrap credentials encode-as-profile`
// prints (CAPA cmd/clusterawsadm/credentials/credentials.go, AWSCredentialsTemplate), and ZERO_CREDENTIALS.
import { strict as assert } from "node:assert";

import { encodeCapaCredentials, ZERO_CREDENTIALS } from "../../render/awsCredentials";

const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

/** Reads an INI profile back, as the AWS SDK in the CAPA controller would. */
function parseProfile(text: string): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    let section = "";
    for (const line of text.split("\n")) {
        const header = /^\[(.+)\]$/.exec(line);
        if (header) { section = header[1]; out[section] = {}; continue; }
        const kv = /^([a-z_]+) = (.*)$/.exec(line);
        if (kv) out[section][kv[1]] = kv[2];
        else assert.equal(line, "", `unexpected line ${JSON.stringify(line)}`);
    }
    return out;
}

describe("encodeCapaCredentials (render/awsCredentials.ts)", () => {
    const creds = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };

    it("renders clusterawsadm's template exactly, without a session token", () => {
        assert.equal(
            decode(encodeCapaCredentials(creds, "eu-west-1")),
            "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nregion = eu-west-1\n\n",
        );
    });

    it("renders clusterawsadm's template exactly, with a session token after an empty line", () => {
        assert.equal(
            decode(encodeCapaCredentials({ ...creds, sessionToken: "FwoGZXIvYXdzEXAMPLE" }, "eu-west-1")),
            "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nregion = eu-west-1\n\naws_session_token = FwoGZXIvYXdzEXAMPLE\n\n",
        );
    });

    it("round-trips through base64 and an INI reader", () => {
        for (const c of [creds, { ...creds, sessionToken: "token+/=" }]) {
            const encoded = encodeCapaCredentials(c, "us-gov-west-1");
            assert.match(encoded, /^[A-Za-z0-9+/]+={0,2}$/, "standard base64, one line");
            assert.deepEqual(parseProfile(decode(encoded)), {
                default: {
                    aws_access_key_id: c.accessKeyId,
                    aws_secret_access_key: c.secretAccessKey,
                    region: "us-gov-west-1",
                    ...("sessionToken" in c ? { aws_session_token: c.sessionToken } : {}),
                },
            });
        }
    });

    it("refuses values that would break the profile", () => {
        assert.throws(() => encodeCapaCredentials({ ...creds, secretAccessKey: "x\naws_access_key_id = y" }, "eu-west-1"), /secretAccessKey/);
        assert.throws(() => encodeCapaCredentials({ ...creds, accessKeyId: "" }, "eu-west-1"), /accessKeyId/);
        assert.throws(() => encodeCapaCredentials(creds, ""), /region/);
    });

    it("ZERO_CREDENTIALS is an empty profile (a single newline)", () => {
        assert.equal(ZERO_CREDENTIALS, "Cg==");
        assert.equal(decode(ZERO_CREDENTIALS), "\n");
    });
});
