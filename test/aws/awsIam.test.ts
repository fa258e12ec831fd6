// AwsIam under mocks: which resources it registers (names, trust policies, attachments, options),
// the ownership check before creating, the reuse path (nothing created), and the credentials outputs.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";

import type * as AwsIamModule from "../../components/awsIam";
import { capaIamPlan, fillPartition } from "../../render/iam";
import { reportedErrors, settle } from "../support/runtimeErrors";

type Registered = { type: string; name: string; inputs: Record<string, unknown> };
type Captured = { type: string; name: string; opts: pulumi.ResourceOptions };

/** A fake account: existing IAM roles (name → tags) and instance profiles (name → role). */
const account = {
    roles: new Map<string, Record<string, string>>(),
    instanceProfiles: new Map<string, string>(),
};
let registered: Registered[] = [];
let calls: string[] = [];

const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        const physical = (args.inputs.name as string | undefined) ?? args.name;
        const kind = args.type.split(":").pop()!.toLowerCase();
        return { id: `${physical}-id`, state: { ...args.inputs, name: physical, arn: `arn:aws:iam::123456789012:${kind}/${physical}` } };
    },
    call(args) {
        calls.push(args.token);
        switch (args.token) {
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
            case "aws:iam/getRoles:getRoles": {
                const re = new RegExp(args.inputs.nameRegex as string);
                const names = [...account.roles.keys()].filter((n) => re.test(n));
                return { names, arns: names.map((n) => `arn:aws:iam::123456789012:role/${n}`), id: "roles" };
            }
            case "aws:iam/getRole:getRole": {
                const name = args.inputs.name as string;
                const tags = account.roles.get(name);
                if (!tags) throw new Error(`NoSuchEntity: The role with name ${name} cannot be found.`);
                return { name, arn: `arn:aws:iam::123456789012:role/${name}`, tags, id: name };
            }
            case "aws:iam/getInstanceProfile:getInstanceProfile": {
                const name = args.inputs.name as string;
                const roleName = account.instanceProfiles.get(name);
                if (roleName === undefined) throw new Error(`NoSuchEntity: Instance Profile ${name} cannot be found.`);
                return { name, roleName, arn: `arn:aws:iam::123456789012:instance-profile/${name}`, id: name };
            }
            default:
                throw new Error(`unexpected invoke ${args.token}`);
        }
    },
};

const promiseOf = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve, reject) => {
    // An Output's promise is internal; apply() sees the value, and a rejection surfaces through it.
    o.apply((v) => { resolve(v); return v; });
    (o as unknown as { promise(): Promise<T> }).promise().catch(reject);
});
/** Whether the Output is still unresolved after the mocks settled (a failed resource's dependents never resolve). */
const pending = async <T>(o: pulumi.Output<T>) => {
    let done = false;
    promiseOf(o).then(() => (done = true), () => (done = true));
    await settle();
    return !done;
};


describe("AwsIam (components/awsIam.ts) under mocks", () => {
    let mod: typeof AwsIamModule;
    const plan = fillPartition(capaIamPlan(), "aws");
    const owner = "fleet-bootstrap/staging";

    before(async () => {
        await pulumi.runtime.setMocks(mocks, "fleet-bootstrap", "staging", false);
        // After setMocks. `require`, not `await import()`: under `tsx/cjs` (.mocharc.json) a dynamic
        // import goes to Node's ESM loader, which cannot resolve an extensionless .ts path.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        mod = require("../../components/awsIam") as typeof AwsIamModule;
    });
    beforeEach(() => {
        registered = [];
        calls = [];
        account.roles.clear();
        account.instanceProfiles.clear();
    });

    function newIam(name: string, args: Partial<AwsIamModule.AwsIamArgs>, captured: Captured[] = []) {
        return new mod.AwsIam(name, { reuseExisting: false, region: "eu-west-1", ...args }, {
            // Legacy transformations see each resource's options (mocks do not); skip the component itself.
            transformations: [(a) => {
                if (a.type !== "fleet:index:AwsIam") captured.push({ type: a.type, name: a.name, opts: a.opts });
                return undefined;
            }],
        });
    }
    async function outputsOf(c: AwsIamModule.AwsIam) {
        return {
            controlPlane: await promiseOf(c.controlPlaneInstanceProfile),
            controllers: await promiseOf(c.controllersInstanceProfile),
            nodes: await promiseOf(c.nodesInstanceProfile),
            controllersRoleArn: await promiseOf(c.controllersRoleArn),
        };
    }

    describe("create", () => {
        it("registers exactly the plan's roles, policies, instance profiles and attachments", async () => {
            const c = newIam("iam", {});
            const out = await outputsOf(c);
            const ofType = (t: string) => registered.filter((r) => r.type === t);

            const roles = ofType("aws:iam/role:Role");
            assert.deepEqual(
                roles.map((r) => [r.name, r.inputs.name, JSON.parse(r.inputs.assumeRolePolicy as string)]).sort(),
                plan.roles.map((r) => [`iam-${r.key}`, r.name, r.trustPolicy]).sort(),
            );
            const policies = ofType("aws:iam/policy:Policy");
            assert.deepEqual(
                policies.map((p) => [p.name, p.inputs.name, p.inputs.description, JSON.parse(p.inputs.policy as string)]).sort(),
                plan.policies.map((p) => [`iam-${p.key}`, p.name, p.description, p.document]).sort(),
            );
            const profiles = ofType("aws:iam/instanceProfile:InstanceProfile");
            assert.deepEqual(
                profiles.map((p) => [p.name, p.inputs.name, p.inputs.role]).sort(),
                plan.instanceProfiles.map((p) => [`iam-${p.key}`, p.name, p.role]).sort(),
            );
            const attachments = ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment");
            const policyArn = (name: string) => `arn:aws:iam::123456789012:policy/${name}`;
            assert.deepEqual(
                attachments.map((a) => `${a.inputs.role} <- ${a.inputs.policyArn}`).sort(),
                [
                    ...plan.policies.flatMap((p) => p.roles.map((r) => `${r} <- ${policyArn(p.name)}`)),
                    ...plan.roles.flatMap((r) => r.managedPolicyArns.map((arn) => `${r.name} <- ${arn}`)),
                ].sort(),
            );
            assert.ok(attachments.some((a) => a.name === "iam-AmazonEKSWorkerNodePolicy-to-nodes"));
            assert.ok(attachments.some((a) => a.name === "iam-controllers-to-control-plane"));
            assert.equal(registered.length, 1 + roles.length + policies.length + profiles.length + attachments.length, "only IAM resources (and the component)");
            assert.equal(registered.filter((r) => r.type === "fleet:index:AwsIam").length, 1);

            for (const r of [...roles, ...policies, ...profiles]) {
                assert.deepEqual(r.inputs.tags, { "fleet-bootstrap.io/iam-owner": owner }, r.name);
            }
            assert.deepEqual(out, {
                controlPlane: "control-plane.cluster-api-provider-aws.sigs.k8s.io",
                controllers: "controllers.cluster-api-provider-aws.sigs.k8s.io",
                nodes: "nodes.cluster-api-provider-aws.sigs.k8s.io",
                controllersRoleArn: "arn:aws:iam::123456789012:role/controllers.cluster-api-provider-aws.sigs.k8s.io",
            });
        });

        it("retains every IAM resource on delete and parents it to the component", async () => {
            const captured: Captured[] = [];
            await outputsOf(newIam("iam-opts", {}, captured));
            assert.equal(captured.length, registered.length - 1);
            for (const c of captured) {
                assert.equal(c.opts.retainOnDelete, true, `${c.name} retainOnDelete`);
                assert.ok(c.opts.parent instanceof mod.AwsIam, `${c.name} parent`);
            }
        });

        it("fills the partition it is given", async () => {
            await outputsOf(newIam("iam-cn", { partition: "aws-cn" }));
            const nodes = registered.find((r) => r.name === "iam-cn-AmazonEKS_CNI_Policy-to-nodes");
            assert.equal(nodes?.inputs.policyArn, "arn:aws-cn:iam::aws:policy/AmazonEKS_CNI_Policy");
            assert.ok(!calls.includes("aws:index/getPartition:getPartition"));
        });

        it("passes when the roles exist and carry this stack's owner tag (its own IAM)", async () => {
            for (const r of plan.roles) account.roles.set(r.name, { "fleet-bootstrap.io/iam-owner": owner });
            const out = await outputsOf(newIam("iam-own", {}));
            assert.equal(out.nodes, "nodes.cluster-api-provider-aws.sigs.k8s.io");
        });

        it("stops before creating anything when clusterawsadm's roles exist, and says how to reuse", async () => {
            for (const r of plan.roles) account.roles.set(r.name, { "aws:cloudformation:stack-name": "cluster-api-provider-aws-sigs-k8s-io" });
            account.roles.set("unrelated-role", {});
            let c: AwsIamModule.AwsIam | undefined;
            const errors = await reportedErrors(async () => { c = newIam("iam-conflict", {}); });
            assert.equal(errors.length, 1, "reported once");
            assert.ok(errors[0] instanceof pulumi.ResourceError);
            assert.match(errors[0].message, /^CAPA's IAM already exists in this AWS account: /, "verbatim, no serializer prefix");
            assert.match(errors[0].message, /controllers\.cluster-api-provider-aws\.sigs\.k8s\.io \(not created by fleet-bootstrap/);
            assert.match(errors[0].message, /EntityAlreadyExists/);
            assert.match(errors[0].message, /pulumi config set fleet-bootstrap:awsReuseExistingIam true/);
            assert.doesNotMatch(errors[0].message, /unrelated-role/);
            assert.deepEqual(registered.map((r) => r.type), ["fleet:index:AwsIam"], "no IAM resource registered");
            assert.ok(await pending(c!.nodesInstanceProfile), "dependents never get a profile name");
            assert.ok(await pending(c!.temporaryClusterCredentials ?? c!.permanentClusterCredentials!), "nor credentials");
        });

        it("names another stack's IAM as such", async () => {
            account.roles.set(plan.roles[0].name, { "fleet-bootstrap.io/iam-owner": "fleet-bootstrap/production" });
            const errors = await reportedErrors(async () => { newIam("iam-other-stack", {}); });
            assert.equal(errors.length, 1);
            assert.match(errors[0].message, /control-plane\.cluster-api-provider-aws\.sigs\.k8s\.io \(owned by fleet-bootstrap\/production\)/);
        });
    });

    describe("reuse", () => {
        function seedClusterawsadmIam() {
            for (const r of plan.roles) account.roles.set(r.name, {});
            for (const p of plan.instanceProfiles) account.instanceProfiles.set(p.name, p.role);
        }

        it("registers no IAM resource and returns the looked-up names", async () => {
            seedClusterawsadmIam();
            const captured: Captured[] = [];
            const out = await outputsOf(newIam("iam-reuse", { reuseExisting: true }, captured));
            await settle();
            assert.deepEqual(registered.map((r) => r.type), ["fleet:index:AwsIam"]);
            assert.deepEqual(captured, []);
            assert.ok(!calls.includes("aws:iam/getRoles:getRoles"), "no ownership check when reusing");
            assert.deepEqual(out, {
                controlPlane: "control-plane.cluster-api-provider-aws.sigs.k8s.io",
                controllers: "controllers.cluster-api-provider-aws.sigs.k8s.io",
                nodes: "nodes.cluster-api-provider-aws.sigs.k8s.io",
                controllersRoleArn: "arn:aws:iam::123456789012:role/controllers.cluster-api-provider-aws.sigs.k8s.io",
            });
        });

        it("fails with a hint when names are missing, reported once", async () => {
            seedClusterawsadmIam();
            account.instanceProfiles.delete("nodes.cluster-api-provider-aws.sigs.k8s.io");
            account.roles.delete("eks-controlplane.cluster-api-provider-aws.sigs.k8s.io");
            let c: AwsIamModule.AwsIam | undefined;
            const errors = await reportedErrors(async () => { c = newIam("iam-reuse-missing", { reuseExisting: true }); });
            assert.equal(errors.length, 1);
            assert.match(errors[0].message, /^CAPA's IAM is incomplete in this AWS account \(fleet-bootstrap:awsReuseExistingIam is true\)/);
            assert.match(errors[0].message, /clusterawsadm bootstrap iam create-cloudformation-stack/);
            assert.match(errors[0].message, /IAM role eks-controlplane\.cluster-api-provider-aws\.sigs\.k8s\.io was not found/);
            assert.match(errors[0].message, /IAM instance profile nodes\.cluster-api-provider-aws\.sigs\.k8s\.io was not found/);
            assert.ok(await pending(c!.controlPlaneInstanceProfile));
        });

        it("fails when an instance profile wraps another role", async () => {
            seedClusterawsadmIam();
            account.instanceProfiles.set("controllers.cluster-api-provider-aws.sigs.k8s.io", "someone-else");
            const errors = await reportedErrors(async () => { newIam("iam-reuse-wrong", { reuseExisting: true }); });
            assert.equal(errors.length, 1);
            assert.match(errors[0].message, /controllers\.cluster-api-provider-aws\.sigs\.k8s\.io wraps role someone-else/);
        });
    });

    describe("credentials", () => {
        const creds = { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "wJalrSECRET/K7MDENG", sessionToken: "FwoGZXIvYXdzSESSION" };
        const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

        it("gives the temporary cluster the encoded bootstrap credentials, as a secret, even from plain input", async () => {
            const c = newIam("iam-creds", { bootstrapCredentials: creds });
            assert.ok(c.temporaryClusterCredentials);
            assert.equal(await pulumi.isSecret(c.temporaryClusterCredentials), true);
            const profile = decode(await promiseOf(c.temporaryClusterCredentials));
            assert.match(profile, /^\[default\]\naws_access_key_id = AKIAEXAMPLE\n/);
            assert.match(profile, /\nregion = eu-west-1\n/);
            assert.match(profile, /\naws_session_token = FwoGZXIvYXdzSESSION\n/);
        });

        it("keeps Pulumi-secret inputs secret and out of every registered resource", async () => {
            const secretCreds = pulumi.secret(creds);
            const c = newIam("iam-creds-secret", { bootstrapCredentials: secretCreds });
            assert.equal(await pulumi.isSecret(c.temporaryClusterCredentials!), true);
            await promiseOf(c.temporaryClusterCredentials!);
            const everything = JSON.stringify(registered);
            for (const v of Object.values(creds)) assert.ok(!everything.includes(v), "credential in a resource input");
        });

        it("gives the permanent cluster zero credentials by default (secret), so CAPA uses the instance profile", async () => {
            const c = newIam("iam-perm", { bootstrapCredentials: creds });
            assert.ok(c.permanentClusterCredentials);
            assert.equal(await pulumi.isSecret(c.permanentClusterCredentials), true);
            assert.equal(await promiseOf(c.permanentClusterCredentials), "Cg==");
        });

        it("gives the permanent cluster the static credentials only on opt-in", async () => {
            const c = newIam("iam-perm-static", { bootstrapCredentials: creds, staticCredentialsOnPermanent: true });
            assert.equal(await pulumi.isSecret(c.permanentClusterCredentials!), true);
            assert.match(decode(await promiseOf(c.permanentClusterCredentials!)), /aws_secret_access_key = wJalrSECRET\/K7MDENG/);
        });

        it("produces no temporary credentials when they come from the caller's environment", async () => {
            const c = newIam("iam-env", {});
            assert.equal(c.temporaryClusterCredentials, undefined);
            assert.equal(await promiseOf(c.permanentClusterCredentials!), "Cg==");
        });

        it("waits for the IAM before handing out credentials", async () => {
            for (const r of plan.roles) account.roles.set(r.name, {});
            let c: AwsIamModule.AwsIam | undefined;
            const errors = await reportedErrors(async () => { c = newIam("iam-creds-blocked", { bootstrapCredentials: creds }); });
            assert.equal(errors.length, 1);
            assert.ok(await pending(c!.temporaryClusterCredentials!));
            assert.ok(await pending(c!.permanentClusterCredentials!));
        });

        it("requires the region with bootstrap credentials", () => {
            assert.throws(() => newIam("iam-no-region", { region: undefined, bootstrapCredentials: creds }), /region/);
        });
    });
});
