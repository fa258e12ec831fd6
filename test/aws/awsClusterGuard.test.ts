// AwsClusterGuard under mocks: the `aws:ec2/getVpcs:getVpcs` lookups answered from a fake account of
// tagged VPCs; a foreign cluster of the same name stops everything that waits for the guard.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";

import type * as GuardModule from "../../components/awsClusterGuard";
import { reportedErrors } from "../support/runtimeErrors";

type Vpc = { id: string; region: string; tags: Record<string, string> };
let vpcs: Vpc[] = [];
let registered: Array<{ type: string; name: string }> = [];
let lookups: Array<Record<string, unknown>> = [];

const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
        registered.push({ type: args.type, name: args.name });
        return { id: `${args.name}-id`, state: args.inputs };
    },
    call(args) {
        if (args.token !== "aws:ec2/getVpcs:getVpcs") throw new Error(`unexpected invoke ${args.token}`);
        lookups.push(args.inputs);
        // EC2 filter semantics: every filter must match; `tag:<key>` matches any of the values.
        const filters = (args.inputs.filters ?? []) as Array<{ name: string; values: string[] }>;
        const ids = vpcs
            .filter((v) => v.region === args.inputs.region)
            .filter((v) => filters.every((f) => {
                if (!f.name.startsWith("tag:")) throw new Error(`filter ${f.name} not mocked`);
                const value = v.tags[f.name.slice("tag:".length)];
                return value !== undefined && f.values.includes(value);
            }))
            .map((v) => v.id);
        return { ids, id: args.inputs.region as string, region: args.inputs.region };
    },
};

const promiseOf = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve, reject) => {
    o.apply((v) => { resolve(v); return v; });
    (o as unknown as { promise(): Promise<T> }).promise().catch(reject);
});


describe("AwsClusterGuard (components/awsClusterGuard.ts) under mocks", () => {
    let mod: typeof GuardModule;
    const capa = "sigs.k8s.io/cluster-api-provider-aws/cluster/mgmt";
    const env = "fleet-bootstrap.io/environment";

    before(async () => {
        await pulumi.runtime.setMocks(mocks, "fleet-bootstrap", "staging", false);
        // After setMocks; `require` because `await import()` of a .ts path fails under tsx/cjs.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        mod = require("../../components/awsClusterGuard") as typeof GuardModule;
    });
    beforeEach(() => {
        vpcs = [];
        registered = [];
        lookups = [];
    });

    /** A stand-in for the management cluster's first resource. */
    class FakeCluster extends pulumi.CustomResource {
        constructor(name: string, opts: pulumi.CustomResourceOptions) {
            super("test:index:ManagementCluster", name, {}, opts);
        }
    }

    /** The guard, and the management cluster stand-in that `dependsOn` it as stacks/environment.ts does. */
    function guardAndCluster(name: string) {
        const guard = new mod.AwsClusterGuard(name, { environment: "staging", clusterName: "mgmt", region: "eu-west-1" });
        const cluster = new FakeCluster(`${name}-mgmt`, { dependsOn: [guard] });
        return { guard, cluster };
    }

    it("passes in an empty account and lets the management cluster be created", async () => {
        vpcs = [{ id: "vpc-other", region: "eu-west-1", tags: { "sigs.k8s.io/cluster-api-provider-aws/cluster/blue": "owned" } }];
        const { guard, cluster } = guardAndCluster("guard-empty");
        assert.equal(await promiseOf(guard.ok), true);
        assert.deepEqual(await promiseOf(guard.ownVpcIds), []);
        await promiseOf(cluster.urn);
        assert.deepEqual(registered.map((r) => r.type).sort(), ["command:local:Command", "fleet:index:AwsClusterGuard", "test:index:ManagementCluster"]);
        assert.ok(lookups.every((l) => l.region === "eu-west-1"), "looks in the environment's region");
    });

    it("passes when the cluster's VPC is ours (an earlier run of this environment)", async () => {
        vpcs = [{ id: "vpc-ours", region: "eu-west-1", tags: { [capa]: "owned", [env]: "staging" } }];
        const { guard, cluster } = guardAndCluster("guard-ours");
        assert.equal(await promiseOf(guard.ok), true);
        assert.deepEqual(await promiseOf(guard.ownVpcIds), ["vpc-ours"]);
        await promiseOf(cluster.urn);
    });

    it("ignores a cluster of that name in another region", async () => {
        vpcs = [{ id: "vpc-elsewhere", region: "us-east-1", tags: { [capa]: "owned" } }];
        assert.equal(await promiseOf(guardAndCluster("guard-region").guard.ok), true);
    });

    for (const [what, tags] of [
        ["created outside fleet-bootstrap", { [capa]: "owned" }],
        ["of another environment", { [capa]: "owned", [env]: "production" }],
    ] as const) {
        it(`fails for a cluster of that name ${what}, and nothing waiting for it is created`, async () => {
            vpcs = [
                { id: "vpc-0foreign", region: "eu-west-1", tags },
                { id: "vpc-ours", region: "eu-west-1", tags: { [capa]: "owned", [env]: "staging" } },
            ];
            let guard: GuardModule.AwsClusterGuard | undefined;
            const errors = await reportedErrors(async () => { guard = guardAndCluster(`guard-foreign-${what.length}`).guard; });
            assert.equal(errors.length, 1, "reported once");
            const [err] = errors;
            assert.ok(err instanceof pulumi.ResourceError);
            assert.match(err.message, /^A Cluster API cluster named "mgmt" already exists in AWS region eu-west-1/, "verbatim, no serializer prefix");
            assert.match(err.message, /VPC vpc-0foreign carries sigs\.k8s\.io\/cluster-api-provider-aws\/cluster\/mgmt=owned/);
            assert.doesNotMatch(err.message, /vpc-ours/);
            assert.match(err.message, /managementClusterName/);
            await assert.rejects(promiseOf(guard!.ok), (e) => e === err);
            assert.deepEqual(registered.map((r) => r.type), ["fleet:index:AwsClusterGuard"], "no gate step, no management cluster");
        });
    }

    it("assertNoForeignCluster can run before anything is registered", async () => {
        vpcs = [{ id: "vpc-0foreign", region: "eu-west-1", tags: { [capa]: "owned" } }];
        const args = { environment: "staging", clusterName: "mgmt", region: "eu-west-1" };
        await assert.rejects(mod.assertNoForeignCluster(args), /vpc-0foreign/);
        vpcs = [{ id: "vpc-ours", region: "eu-west-1", tags: { [capa]: "owned", [env]: "staging" } }];
        assert.deepEqual(await mod.assertNoForeignCluster(args), ["vpc-ours"]);
        assert.deepEqual(registered, []);
    });

    it("validates its arguments before any lookup", () => {
        assert.throws(() => new mod.AwsClusterGuard("guard-bad", { environment: "staging", clusterName: "", region: "eu-west-1" }), /clusterName/);
        assert.deepEqual(lookups, []);
    });

    it("foreignVpcIds is tagged minus ours", () => {
        assert.deepEqual(mod.foreignVpcIds(["vpc-b", "vpc-a", "vpc-c"], ["vpc-c"]), ["vpc-a", "vpc-b"]);
    });
});
