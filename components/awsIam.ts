// CAPA's IAM (what `clusterawsadm bootstrap iam create-cloudformation-stack` creates) as Pulumi
// resources, or looked up when it already exists; plus the credentials the CAPA controller gets on the
// temporary and on the permanent cluster. The plan (names, documents) is `render/iam.ts`.
//
// Runs in parallel with the temporary cluster. CapiProviders (aws) depends on it through data: it
// consumes `temporaryClusterCredentials`/`permanentClusterCredentials` (and the templates consume the
// instance profile names), all of which resolve only once every IAM resource exists.
import * as pulumi from "@pulumi/pulumi";
import * as iam from "@pulumi/aws/iam";
import { getPartitionOutput } from "@pulumi/aws/getPartition";

import { encodeCapaCredentials, ZERO_CREDENTIALS } from "../render/awsCredentials";
import {
    CAPA_IAM_NAME_SUFFIX,
    CapaIamPlan,
    capaIamName,
    capaIamPlan,
    fillPartition,
    policyJson,
} from "../render/iam";
import { AwsCredentials } from "../stacks/spec";
import { userError } from "./stepCommand";

/** The stack setting that switches to reuse (Pulumi.yaml `awsReuseExistingIam`, spec `aws.reuseExistingIam`). */
export const REUSE_EXISTING_IAM_CONFIG_KEY = "fleet-bootstrap:awsReuseExistingIam";

/** Tag on every IAM resource this component creates: `<project>/<stack>` that owns it. */
export const IAM_OWNER_TAG = "fleet-bootstrap.io/iam-owner";

export interface AwsIamArgs {
    /**
     * Look the clusterawsadm names up instead of creating them (spec `aws.reuseExistingIam`): nothing
     * is created, and a missing role or instance profile fails the preview. A plain boolean, not an
     * Input: it decides which resources exist, so it must be known when the program runs.
     */
    reuseExisting: boolean;
    /** AWS region of the environment (spec `aws.region`), written into the credentials profile; required with `bootstrapCredentials`. */
    region?: string;
    /**
     * CAPA's bootstrap credentials (the `awsAccessKeyId`/`awsSecretAccessKey`/`awsSessionToken`
     * secrets). Omit when `credentialsFromEnvironment`: the step that runs `clusterctl init` then
     * encodes the caller's environment itself, and the credentials never enter the Pulumi state.
     */
    bootstrapCredentials?: pulumi.Input<AwsCredentials>;
    /** Give CAPA on the permanent cluster static credentials too (spec `aws.staticCredentialsOnPermanent`; default false). */
    staticCredentialsOnPermanent?: boolean;
    /** AWS partition for the `arn:<partition>:…` ARNs; default: the provider's (`aws:index/getPartition`). */
    partition?: pulumi.Input<string>;
    /** AWS provider for every child resource and lookup; default: the ambient `aws` provider. */
    provider?: pulumi.ProviderResource;
}

/**
 * CAPA's IAM: roles, instance profiles and managed policies `control-plane.`, `controllers.`,
 * `nodes.`, `eks-controlplane.` / `controllers-eks.` `cluster-api-provider-aws.sigs.k8s.io`.
 *
 * **Create** (default). IAM names are global to the account, so the names may already exist: made by
 * clusterawsadm's CloudFormation stack, by hand, or by another stack. A resource's own provider error
 * (`EntityAlreadyExists`) cannot be rewritten by the program (no Pulumi hook sees a failed create), so
 * before anything is registered the component lists the account's roles (preview included) and, when a
 * role exists without this stack's `fleet-bootstrap.io/iam-owner` tag, fails with a `ResourceError` that
 * names the roles and says how to switch to reuse. Every child `dependsOn` that check, so nothing is
 * created then, and the runtime prints the message once. Not covered: names that carry this stack's tag
 * but are not in its state (IAM retained by an earlier `pulumi destroy`, see below), and instance
 * profiles or policies left without their roles; those still fail at `pulumi up` with AWS's
 * `EntityAlreadyExists`. Then set `fleet-bootstrap:awsReuseExistingIam true`, or adopt them with
 * `pulumi import` (e.g. `aws:iam/role:Role capa-iam-controllers controllers.cluster-api-provider-aws.sigs.k8s.io`).
 *
 * **Reuse** (`reuseExisting: true`). Roles and instance profiles are looked up by name (preview
 * included); missing ones, or an instance profile around another role, fail the program with one
 * `ResourceError` listing them all. The managed policies and their attachments are not checked (no data
 * source lists a role's attachments).
 *
 * On failure the outputs never resolve (as a failed resource's dependents don't); the error reaches the
 * runtime directly, not through consumers' inputs, where the SDK would prefix it once per property.
 *
 * Every created IAM resource has `retainOnDelete: true`: the permanent management cluster outlives this
 * stack's temporary parts, and after the pivot its CAPA controller acts through the `control-plane.`
 * instance profile of its nodes (the role carries the `controllers.` policies). `pulumi destroy` must not
 * pull that away from a running cluster; delete the IAM by hand once no cluster uses it.
 */
export class AwsIam extends pulumi.ComponentResource {
    /** Instance profile for control-plane machines (`AWSMachineTemplate…iamInstanceProfile`). */
    public readonly controlPlaneInstanceProfile: pulumi.Output<string>;
    /** Instance profile for the CAPA controllers' role (clusterawsadm creates it; CAPA templates do not use it). */
    public readonly controllersInstanceProfile: pulumi.Output<string>;
    /** Instance profile for worker machines. */
    public readonly nodesInstanceProfile: pulumi.Output<string>;
    /** ARN of the `controllers.` role. */
    public readonly controllersRoleArn: pulumi.Output<string>;
    /**
     * `AWS_B64ENCODED_CREDENTIALS` for `clusterctl init` on the temporary cluster; secret. Undefined
     * when no `bootstrapCredentials` were given (taken from the caller's environment at run time).
     */
    public readonly temporaryClusterCredentials: pulumi.Output<string> | undefined;
    /**
     * `AWS_B64ENCODED_CREDENTIALS` for `clusterctl init` on the permanent cluster; secret. By default
     * `ZERO_CREDENTIALS` (`Cg==`): CAPA then uses the instance profile of the control-plane node it runs
     * on (needs control-plane tolerations and node selector). The bootstrap credentials only with
     * `staticCredentialsOnPermanent` (undefined then if they come from the environment).
     */
    public readonly permanentClusterCredentials: pulumi.Output<string> | undefined;

    constructor(name: string, args: AwsIamArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:index:AwsIam", name, {}, opts);
        if (args.bootstrapCredentials && !args.region) {
            throw new pulumi.InputPropertyError({ propertyPath: "region", reason: "the AWS region of the environment is required with bootstrapCredentials" });
        }

        const plan = capaIamPlan();
        const iamState = args.reuseExisting
            ? lookUpExistingIam(this, plan, args.provider)
            : createIam(name, this, plan, args);

        // Every output waits for the whole IAM: a consumer never starts with half of it.
        const afterIam = <T>(value: pulumi.Input<T>) =>
            pulumi.all([iamState.ready, value]).apply(([, v]) => v as pulumi.Unwrap<T>);
        this.controlPlaneInstanceProfile = afterIam(iamState.instanceProfiles["control-plane"]);
        this.controllersInstanceProfile = afterIam(iamState.instanceProfiles["controllers"]);
        this.nodesInstanceProfile = afterIam(iamState.instanceProfiles["nodes"]);
        this.controllersRoleArn = afterIam(iamState.controllersRoleArn);

        const encoded = args.bootstrapCredentials
            ? pulumi.secret(afterIam(pulumi.output(args.bootstrapCredentials).apply((c) => encodeCapaCredentials(c, args.region!))))
            : undefined;
        this.temporaryClusterCredentials = encoded;
        this.permanentClusterCredentials = args.staticCredentialsOnPermanent
            ? encoded
            : pulumi.secret(afterIam(ZERO_CREDENTIALS));

        this.registerOutputs({
            controlPlaneInstanceProfile: this.controlPlaneInstanceProfile,
            controllersInstanceProfile: this.controllersInstanceProfile,
            nodesInstanceProfile: this.nodesInstanceProfile,
            controllersRoleArn: this.controllersRoleArn,
            temporaryClusterCredentials: this.temporaryClusterCredentials,
            permanentClusterCredentials: this.permanentClusterCredentials,
        });
    }
}

interface IamState {
    /** Instance profile names by plan key (`control-plane`, `controllers`, `nodes`). */
    instanceProfiles: Record<string, pulumi.Output<string>>;
    controllersRoleArn: pulumi.Output<string>;
    /** Resolves once every resource exists (create) or every lookup succeeded (reuse). */
    ready: pulumi.Output<true>;
}

// ---------------------------------------------------------------------------------------------
// Create

function createIam(name: string, parent: pulumi.Resource, plan: CapaIamPlan, args: AwsIamArgs): IamState {
    const provider = args.provider;
    const partition = args.partition
        ? pulumi.output(args.partition)
        : getPartitionOutput({}, { parent, provider }).partition;
    const tags = { [IAM_OWNER_TAG]: `${pulumi.getProject()}/${pulumi.getStack()}` };

    // Nothing is registered before the ownership check passed; on a conflict every child fails with
    // the check's own ResourceError, which the runtime reports once.
    const checked = checkNamesAreFree(parent, plan, tags[IAM_OWNER_TAG], provider);
    const afterCheck: Promise<pulumi.Resource[]> = checked.then(() => []);
    const childOpts: pulumi.CustomResourceOptions = { parent, provider, retainOnDelete: true, dependsOn: afterCheck };

    const roles = new Map<string, iam.Role>();
    const created: pulumi.Output<string>[] = [];
    for (const role of plan.roles) {
        const resource = new iam.Role(`${name}-${role.key}`, {
            name: role.name,
            assumeRolePolicy: partition.apply((p) => policyJson(role.trustPolicy, p)),
            tags,
        }, childOpts);
        roles.set(role.name, resource);
        created.push(resource.id);
        for (const arn of role.managedPolicyArns) {
            const policyName = arn.slice(arn.lastIndexOf("/") + 1);
            const attachment = new iam.RolePolicyAttachment(`${name}-${policyName}-to-${role.key}`, {
                role: resource.name,
                policyArn: partition.apply((p) => fillPartition(arn, p)),
            }, childOpts);
            created.push(attachment.id);
        }
    }

    const roleOf = (roleName: string) => {
        const resource = roles.get(roleName);
        if (!resource) throw new pulumi.ResourceError(`IAM plan: unknown role ${roleName}`, parent);
        return resource;
    };
    const keyOf = (roleName: string) => plan.roles.find((r) => r.name === roleName)!.key;

    for (const policy of plan.policies) {
        const resource = new iam.Policy(`${name}-${policy.key}`, {
            name: policy.name,
            description: policy.description,
            policy: partition.apply((p) => policyJson(policy.document, p)),
            tags,
        }, childOpts);
        created.push(resource.id);
        for (const roleName of policy.roles) {
            const attachment = new iam.RolePolicyAttachment(`${name}-${policy.key}-to-${keyOf(roleName)}`, {
                role: roleOf(roleName).name,
                policyArn: resource.arn,
            }, childOpts);
            created.push(attachment.id);
        }
    }

    const instanceProfiles: Record<string, pulumi.Output<string>> = {};
    for (const profile of plan.instanceProfiles) {
        const resource = new iam.InstanceProfile(`${name}-${profile.key}`, {
            name: profile.name,
            role: roleOf(profile.role).name,
            tags,
        }, childOpts);
        created.push(resource.id);
        instanceProfiles[profile.key] = resource.name;
    }

    return {
        instanceProfiles,
        controllersRoleArn: roleOf(capaIamName("controllers")).arn,
        ready: pulumi.all(created).apply(() => true as const),
    };
}

/**
 * Fails (preview included) when a role of the plan already exists without this stack's owner tag:
 * creating it would fail with `EntityAlreadyExists`, possibly after other IAM was created.
 */
async function checkNamesAreFree(
    parent: pulumi.Resource,
    plan: CapaIamPlan,
    owner: string,
    provider: pulumi.ProviderResource | undefined,
): Promise<true> {
    const suffix = CAPA_IAM_NAME_SUFFIX.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const existing = await iam.getRoles({ nameRegex: `${suffix}$` }, { parent, provider });
    const found = plan.roles.filter((r) => (existing.names ?? []).includes(r.name));
    const foreign: string[] = [];
    for (const role of found) {
        const current = await iam.getRole({ name: role.name }, { parent, provider });
        const tag = current.tags?.[IAM_OWNER_TAG];
        if (tag === owner) continue;
        foreign.push(`${role.name} (${tag ? `owned by ${tag}` : "not created by fleet-bootstrap, e.g. by clusterawsadm's CloudFormation stack"})`);
    }
    if (foreign.length > 0) {
        throw userError(
            `CAPA's IAM already exists in this AWS account: ${foreign.join(", ")}. ` +
                `This stack would create these names and \`pulumi up\` would fail with EntityAlreadyExists; nothing was created. ` +
                `To use the existing IAM: \`pulumi config set ${REUSE_EXISTING_IAM_CONFIG_KEY} true\`. ` +
                `To let this stack own it instead, delete it first (\`clusterawsadm bootstrap iam delete-cloudformation-stack\` ` +
                `if it came from there) once no cluster uses it.`,
            parent,
        );
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Reuse

function lookUpExistingIam(
    parent: pulumi.Resource,
    plan: CapaIamPlan,
    provider: pulumi.ProviderResource | undefined,
): IamState {
    const found = lookUp(parent, plan, provider);
    // On a failed lookup the outputs never resolve, like a failed resource's: the rejection reaches the
    // runtime once, verbatim, instead of travelling (and being prefixed) through every consumer's inputs.
    const values = pulumi.output(orNever(found));
    return {
        instanceProfiles: Object.fromEntries(plan.instanceProfiles.map((p) => [p.key, values.apply((v) => v.instanceProfiles[p.key])])),
        controllersRoleArn: values.apply((v) => v.controllersRoleArn),
        ready: values.apply(() => true as const),
    };
}

async function lookUp(
    parent: pulumi.Resource,
    plan: CapaIamPlan,
    provider: pulumi.ProviderResource | undefined,
): Promise<{ instanceProfiles: Record<string, string>; controllersRoleArn: string }> {
    const hint =
        `(${REUSE_EXISTING_IAM_CONFIG_KEY} is true). Create CAPA's IAM with ` +
        `\`clusterawsadm bootstrap iam create-cloudformation-stack\`, or set ${REUSE_EXISTING_IAM_CONFIG_KEY} ` +
        `to false to let this stack create it.`;
    const problems: string[] = [];
    const missing = (what: string) => (err: unknown) => {
        problems.push(`${what} was not found (${String(err).split("\n")[0]})`);
        return undefined;
    };

    const [roles, profiles] = await Promise.all([
        Promise.all(plan.roles.map((r) => iam.getRole({ name: r.name }, { parent, provider }).catch(missing(`IAM role ${r.name}`)))),
        Promise.all(plan.instanceProfiles.map((p) =>
            iam.getInstanceProfile({ name: p.name }, { parent, provider }).catch(missing(`IAM instance profile ${p.name}`)),
        )),
    ]);
    plan.instanceProfiles.forEach((expected, i) => {
        const actual = profiles[i];
        if (actual && actual.roleName !== expected.role) {
            problems.push(`IAM instance profile ${expected.name} wraps role ${actual.roleName || "(none)"}, CAPA expects ${expected.role}`);
        }
    });
    if (problems.length > 0) {
        throw userError(`CAPA's IAM is incomplete in this AWS account ${hint} ${problems.join("; ")}.`, parent);
    }
    const controllers = roles[plan.roles.findIndex((r) => r.name === capaIamName("controllers"))]!;
    return {
        instanceProfiles: Object.fromEntries(plan.instanceProfiles.map((p, i) => [p.key, profiles[i]!.name])),
        controllersRoleArn: controllers.arn,
    };
}

/** `p`'s value, or never settles when `p` rejects; the rejection stays unhandled, so Pulumi reports it and fails. */
function orNever<T>(p: Promise<T>): Promise<T> {
    return new Promise((resolve) => {
        void p.then(resolve);
    });
}
