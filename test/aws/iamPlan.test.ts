// The IAM plan against clusterawsadm's default CloudFormation template (CAPA v2.11.1), read from
// `../shared/reference-data/capa/clusterawsadm-bootstrap-iam-default.yaml`: same roles, trust
// policies, attachments, instance profiles, managed policies and statements, compared as multisets.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as yaml from "js-yaml";

import {
    CAPA_IAM_NAME_SUFFIX,
    capaIamPlan,
    fillPartition,
    IamPolicyDocument,
    PARTITION_PLACEHOLDER,
    policyJson,
} from "../../render/iam";
import { referenceFile } from "../fixtures/paths";

const referencePath = referenceFile("capa/clusterawsadm-bootstrap-iam-default.yaml");

// ---------------------------------------------------------------------------------------------
// Reading a CloudFormation template

// CORE_SCHEMA, not the default one: `Version: 2012-10-17` must stay a string, not become a Date.
// The short-form intrinsics (`!Ref x`, `!Sub …`, `!GetAtt a.b`) map to their long form.
const intrinsics = ["Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap", "ImportValue", "Base64", "GetAZs", "Condition"];
const cfnTags = intrinsics.flatMap((name) => {
    const key = name === "Ref" || name === "Condition" ? name : `Fn::${name}`;
    return (["scalar", "sequence", "mapping"] as const).map(
        (kind) =>
            new yaml.Type(`!${name}`, {
                kind,
                construct: (data: unknown) =>
                    name === "GetAtt" && typeof data === "string" ? { [key]: data.split(".") } : { [key]: data },
            }),
    );
});
const cfnSchema = yaml.CORE_SCHEMA.extend(cfnTags);

interface CfnResource {
    Type: string;
    Properties: Record<string, unknown>;
}

const PARTITION = "aws";
const pseudoParameters: Record<string, string> = {
    "AWS::Partition": PARTITION,
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::URLSuffix": "amazonaws.com",
};

/** Resolves intrinsics to plain values: `Ref` to a role is its name, `Fn::Sub` substitutes pseudo parameters and refs. */
function resolve(value: unknown, resources: Record<string, CfnResource>): unknown {
    const ref = (name: string): string => {
        if (name in pseudoParameters) return pseudoParameters[name];
        const target = resources[name];
        if (target?.Type === "AWS::IAM::Role") return String(target.Properties.RoleName);
        if (target?.Type === "AWS::IAM::ManagedPolicy") return `arn:${PARTITION}:iam::123456789012:policy/${target.Properties.ManagedPolicyName}`;
        throw new Error(`cannot resolve Ref ${name}`);
    };
    if (Array.isArray(value)) return value.map((v) => resolve(v, resources));
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value);
    if (entries.length === 1) {
        const [key, arg] = entries[0];
        if (key === "Ref") return ref(String(arg));
        if (key === "Fn::Sub") {
            const [template, vars] = Array.isArray(arg) ? [String(arg[0]), arg[1] as Record<string, unknown>] : [String(arg), {}];
            return template.replace(/\$\{([^}]+)\}/g, (_, name: string) =>
                name in vars ? String(resolve(vars[name], resources)) : ref(name),
            );
        }
        if (key === "Fn::Join") {
            const [sep, parts] = arg as [string, unknown[]];
            return (resolve(parts, resources) as unknown[]).join(sep);
        }
        if (key.startsWith("Fn::")) throw new Error(`intrinsic ${key} not handled by this test`);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v, resources)]));
}

function loadReference(): Record<string, CfnResource> {
    const template = yaml.load(fs.readFileSync(referencePath, "utf8"), { schema: cfnSchema }) as {
        Resources: Record<string, CfnResource>;
    };
    const raw = template.Resources;
    return Object.fromEntries(
        Object.entries(raw).map(([id, r]) => [id, { Type: r.Type, Properties: resolve(r.Properties, raw) as Record<string, unknown> }]),
    );
}

// ---------------------------------------------------------------------------------------------
// Canonical forms: arrays that IAM treats as sets are sorted (kept as multisets, so a lost
// duplicate shows), statements are sorted by their canonical JSON.

function canonical(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(canonical).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    }
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(
            Object.entries(value)
                .map(([k, v]) => [k, canonical(typeof v === "string" && ["Action", "Resource"].includes(k) ? [v] : v)] as const)
                .sort(([a], [b]) => a.localeCompare(b)),
        );
    }
    return value;
}

function byName<T extends { name: string }>(items: T[]): Map<string, T> {
    const map = new Map(items.map((i) => [i.name, i]));
    assert.equal(map.size, items.length, "duplicate names");
    return map;
}

function ofType(resources: Record<string, CfnResource>, type: string): CfnResource[] {
    return Object.values(resources).filter((r) => r.Type === type);
}

describe("capaIamPlan (render/iam.ts) against clusterawsadm's default template", () => {
    const reference = loadReference();
    const plan = fillPartition(capaIamPlan(), PARTITION);

    it("covers every resource type of the template", () => {
        const types = new Set(Object.values(reference).map((r) => r.Type));
        assert.deepEqual(
            [...types].sort(),
            ["AWS::IAM::InstanceProfile", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"],
        );
    });

    it("has the same roles, trust policies and AWS-managed policy attachments", () => {
        const expected = ofType(reference, "AWS::IAM::Role").map((r) => ({
            name: String(r.Properties.RoleName),
            trustPolicy: canonical(r.Properties.AssumeRolePolicyDocument),
            managedPolicyArns: canonical(r.Properties.ManagedPolicyArns ?? []),
        }));
        const actual = plan.roles.map((r) => ({
            name: r.name,
            trustPolicy: canonical(r.trustPolicy),
            managedPolicyArns: canonical(r.managedPolicyArns),
        }));
        assert.deepEqual(byName(actual), byName(expected));
    });

    it("has the same instance profiles, each wrapping the same role", () => {
        const expected = ofType(reference, "AWS::IAM::InstanceProfile").map((r) => ({
            name: String(r.Properties.InstanceProfileName),
            roles: r.Properties.Roles,
        }));
        const actual = plan.instanceProfiles.map((p) => ({ name: p.name, roles: [p.role] }));
        assert.deepEqual(byName(actual), byName(expected));
    });

    it("has the same managed policies: names, descriptions, role attachments", () => {
        const expected = ofType(reference, "AWS::IAM::ManagedPolicy").map((r) => ({
            name: String(r.Properties.ManagedPolicyName),
            description: r.Properties.Description,
            roles: canonical(r.Properties.Roles),
        }));
        const actual = plan.policies.map((p) => ({ name: p.name, description: p.description, roles: canonical(p.roles) }));
        assert.deepEqual(byName(actual), byName(expected));
    });

    for (const policy of capaIamPlan().policies) {
        it(`policy ${policy.name}: every statement (Effect/Action/Resource/Condition) matches`, () => {
            const ref = ofType(reference, "AWS::IAM::ManagedPolicy").find((r) => r.Properties.ManagedPolicyName === policy.name);
            assert.ok(ref, `${policy.name} missing from the reference`);
            const doc = ref.Properties.PolicyDocument as IamPolicyDocument;
            const ours = fillPartition(policy.document, PARTITION);
            assert.equal(ours.Version, doc.Version);
            assert.deepEqual(canonical(ours.Statement), canonical(doc.Statement));
        });
    }

    it("keeps the template's statement and action order (easier to diff against upstream)", () => {
        for (const policy of plan.policies) {
            const ref = ofType(reference, "AWS::IAM::ManagedPolicy").find((r) => r.Properties.ManagedPolicyName === policy.name)!;
            assert.deepEqual(
                JSON.parse(policyJson(policy.document, PARTITION)),
                JSON.parse(JSON.stringify(ref.Properties.PolicyDocument)),
                policy.name,
            );
        }
    });

    it("names everything with the clusterawsadm suffix", () => {
        const names = [...plan.roles, ...plan.instanceProfiles, ...plan.policies].map((x) => x.name);
        for (const name of names) assert.ok(name.endsWith(CAPA_IAM_NAME_SUFFIX), name);
    });

    it("puts the partition only where clusterawsadm renders it, and nowhere unfilled", () => {
        const raw = JSON.stringify(capaIamPlan());
        assert.equal(raw.split(PARTITION_PLACEHOLDER).length - 1, 5, "AWS-managed policy ARNs (3 + GetPolicy) and the Fargate service-linked role");
        const china = JSON.stringify(fillPartition(capaIamPlan(), "aws-cn"));
        assert.ok(!china.includes(PARTITION_PLACEHOLDER));
        assert.ok(china.includes("arn:aws-cn:iam::aws:policy/AmazonEKSClusterPolicy"));
        assert.ok(!china.includes("arn:aws:"));
        assert.throws(() => fillPartition(capaIamPlan(), "aws\",\"x"), /not an AWS partition/);
    });
});
