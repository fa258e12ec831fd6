// CAPA's IAM as plain data: the roles, instance profiles and customer managed policies that
// `clusterawsadm bootstrap iam create-cloudformation-stack` creates with its default configuration
// (CAPA v2.11.1; CloudFormation template `cmd/clusterawsadm/cloudformation/bootstrap/fixtures/default.yaml`,
// copied to `../shared/reference-data/capa/clusterawsadm-bootstrap-iam-default.yaml`).
//
// Pure: no Pulumi. `components/awsIam.ts` turns this plan into resources; `test/aws/iamPlan.test.ts`
// checks it against the reference template, statement by statement.
//
// Translation of the template:
// - `Ref: AWSIAMRole…` (a role's logical id) becomes the role's name, which is what `Ref` returns for
//   an `AWS::IAM::Role`.
// - clusterawsadm renders `arn:<spec.partition>:…` itself (default partition `aws`), so the template
//   shows `arn:aws:…` for the AWS-managed policies and the Fargate service-linked role. Those ARNs carry
//   the placeholder `${partition}` here; `fillPartition` puts the real partition in. `arn:*:…`
//   is a wildcard in the policy itself and stays as it is.
// - The template uses no other intrinsic (`Fn::Sub`, `AWS::AccountId`, …).
// Statement order and content follow the template, including its duplicate
// `ec2:DescribeInstanceTypes` in the controllers policy.

/** Every clusterawsadm IAM name ends with this (its `spec.nameSuffix` default). */
export const CAPA_IAM_NAME_SUFFIX = ".cluster-api-provider-aws.sigs.k8s.io";

/** Placeholder for the AWS partition (`aws`, `aws-cn`, `aws-us-gov`) inside ARNs of the plan. */
export const PARTITION_PLACEHOLDER = "${partition}";

export interface IamStatement {
    Effect: "Allow" | "Deny";
    Action: string[];
    Resource?: string[];
    Principal?: { Service?: string[]; AWS?: string[] };
    Condition?: Record<string, Record<string, string>>;
}

export interface IamPolicyDocument {
    Version: "2012-10-17";
    Statement: IamStatement[];
}

export interface CapaRole {
    /** Short key for resource names: `control-plane`, `controllers`, `nodes`, `eks-controlplane`. */
    key: string;
    /** IAM role name. */
    name: string;
    /** `AssumeRolePolicyDocument`. */
    trustPolicy: IamPolicyDocument;
    /** AWS-managed policies attached to the role (`ManagedPolicyArns`), with the partition placeholder. */
    managedPolicyArns: string[];
}

export interface CapaInstanceProfile {
    key: string;
    /** Instance profile name (what `AWSMachineTemplate.spec.template.spec.iamInstanceProfile` names). */
    name: string;
    /** Name of the role it wraps. */
    role: string;
}

export interface CapaManagedPolicy {
    /** Short key for resource names: `control-plane`, `nodes`, `controllers`, `controllers-eks`. */
    key: string;
    /** IAM policy name (`ManagedPolicyName`). */
    name: string;
    description: string;
    document: IamPolicyDocument;
    /** Names of the roles the policy is attached to. */
    roles: string[];
}

export interface CapaIamPlan {
    roles: CapaRole[];
    instanceProfiles: CapaInstanceProfile[];
    policies: CapaManagedPolicy[];
}

/** `control-plane` → `control-plane.cluster-api-provider-aws.sigs.k8s.io`. */
export function capaIamName(prefix: string): string {
    return `${prefix}${CAPA_IAM_NAME_SUFFIX}`;
}

/** The default clusterawsadm IAM, with `${partition}` placeholders (see `fillPartition`). */
export function capaIamPlan(): CapaIamPlan {
    const controlPlane = capaIamName("control-plane");
    const controllers = capaIamName("controllers");
    const nodes = capaIamName("nodes");
    const eksControlPlane = capaIamName("eks-controlplane");

    return {
        roles: [
            role("control-plane", controlPlane, "ec2.amazonaws.com", []),
            // CAPA's main branch (after v2.11) adds `pods.eks.amazonaws.com` with sts:TagSession for EKS
            // Pod Identity; v2.11.1, which we run, trusts EC2 only.
            role("controllers", controllers, "ec2.amazonaws.com", []),
            role("nodes", nodes, "ec2.amazonaws.com", [
                awsManagedPolicyArn("AmazonEKSWorkerNodePolicy"),
                awsManagedPolicyArn("AmazonEKS_CNI_Policy"),
            ]),
            role("eks-controlplane", eksControlPlane, "eks.amazonaws.com", [
                awsManagedPolicyArn("AmazonEKSClusterPolicy"),
            ]),
        ],
        instanceProfiles: [
            { key: "control-plane", name: controlPlane, role: controlPlane },
            { key: "controllers", name: controllers, role: controllers },
            { key: "nodes", name: nodes, role: nodes },
        ],
        policies: [
            {
                key: "control-plane",
                name: controlPlane,
                description: "For the Kubernetes Cloud Provider AWS Control Plane",
                document: policy(controlPlaneStatements()),
                roles: [controlPlane],
            },
            {
                key: "nodes",
                name: nodes,
                description: "For the Kubernetes Cloud Provider AWS nodes",
                document: policy(nodesStatements()),
                roles: [controlPlane, nodes],
            },
            {
                key: "controllers",
                name: controllers,
                description: "For the Kubernetes Cluster API Provider AWS Controllers",
                document: policy(controllersStatements()),
                // The control-plane role carries the controllers' permissions too: after the pivot the
                // CAPA controller runs on control-plane nodes and uses their instance profile.
                roles: [controllers, controlPlane],
            },
            {
                key: "controllers-eks",
                name: capaIamName("controllers-eks"),
                description: "For the Kubernetes Cluster API Provider AWS Controllers",
                document: policy(controllersEksStatements()),
                roles: [controllers, controlPlane],
            },
        ],
    };
}

/** Replaces the partition placeholder in every string of `value` (a plan, a document, an ARN). */
export function fillPartition<T>(value: T, partition: string): T {
    if (!/^aws(-[a-z]+)*$/.test(partition)) {
        throw new Error(`not an AWS partition: ${JSON.stringify(partition)}`);
    }
    const fill = (v: unknown): unknown => {
        if (typeof v === "string") return v.split(PARTITION_PLACEHOLDER).join(partition);
        if (Array.isArray(v)) return v.map(fill);
        if (v !== null && typeof v === "object") {
            return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
        }
        return v;
    };
    return fill(value) as T;
}

/** The JSON an IAM API (and `aws.iam.Policy.policy` / `Role.assumeRolePolicy`) takes. */
export function policyJson(document: IamPolicyDocument, partition: string): string {
    return JSON.stringify(fillPartition(document, partition));
}

// ---------------------------------------------------------------------------------------------
// Building blocks

function awsManagedPolicyArn(name: string): string {
    return `arn:${PARTITION_PLACEHOLDER}:iam::aws:policy/${name}`;
}

function role(key: string, name: string, trustedService: string, managedPolicyArns: string[]): CapaRole {
    return {
        key,
        name,
        trustPolicy: policy([
            { Effect: "Allow", Action: ["sts:AssumeRole"], Principal: { Service: [trustedService] } },
        ]),
        managedPolicyArns,
    };
}

function policy(statements: IamStatement[]): IamPolicyDocument {
    return { Version: "2012-10-17", Statement: statements };
}

function allow(actions: string[], resources: string[], condition?: IamStatement["Condition"]): IamStatement {
    return { Effect: "Allow", Action: actions, Resource: resources, ...(condition ? { Condition: condition } : {}) };
}

/** `iam:CreateServiceLinkedRole` for one AWS service's service-linked role. */
function serviceLinkedRole(awsServiceName: string, roleArn: string): IamStatement {
    return allow(["iam:CreateServiceLinkedRole"], [roleArn], { StringLike: { "iam:AWSServiceName": awsServiceName } });
}

const anyResource = ["*"];
const capaSecrets = ["arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io/*"];

// ---------------------------------------------------------------------------------------------
// Policy documents, in the template's order

/** `control-plane.…`: the AWS cloud provider on control-plane nodes. */
function controlPlaneStatements(): IamStatement[] {
    return [
        allow(
            [
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeTags",
                "ec2:AssignIpv6Addresses",
                "ec2:DescribeInstances",
                "ec2:DescribeImages",
                "ec2:DescribeRegions",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVolumes",
                "ec2:CreateSecurityGroup",
                "ec2:CreateTags",
                "ec2:CreateVolume",
                "ec2:ModifyInstanceAttribute",
                "ec2:ModifyVolume",
                "ec2:AttachVolume",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:CreateRoute",
                "ec2:DeleteRoute",
                "ec2:DeleteSecurityGroup",
                "ec2:DeleteVolume",
                "ec2:DetachVolume",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DescribeVpcs",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:AttachLoadBalancerToSubnets",
                "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateLoadBalancerPolicy",
                "elasticloadbalancing:CreateLoadBalancerListeners",
                "elasticloadbalancing:ConfigureHealthCheck",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:DeleteLoadBalancerListeners",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DetachLoadBalancerFromSubnets",
                "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
                "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:CreateTargetGroup",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:DeregisterTargets",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeLoadBalancerPolicies",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:RegisterTargets",
                "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
                "iam:CreateServiceLinkedRole",
                "kms:DescribeKey",
            ],
            anyResource,
        ),
    ];
}

/** `nodes.…`: the AWS cloud provider and image pulls on every node, bootstrap data, SSM sessions. */
function nodesStatements(): IamStatement[] {
    return [
        allow(
            [
                "ec2:AssignIpv6Addresses",
                "ec2:DescribeInstances",
                "ec2:DescribeRegions",
                "ec2:CreateTags",
                "ec2:DescribeTags",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeInstanceTypes",
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:GetRepositoryPolicy",
                "ecr:DescribeRepositories",
                "ecr:ListImages",
                "ecr:BatchGetImage",
            ],
            anyResource,
        ),
        // Bootstrap data reaches machines through Secrets Manager (CAPA's default secret backend).
        allow(["secretsmanager:DeleteSecret", "secretsmanager:GetSecretValue"], capaSecrets),
        allow(
            [
                "ssm:UpdateInstanceInformation",
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
                "s3:GetEncryptionConfiguration",
            ],
            anyResource,
        ),
    ];
}

/** `controllers.…`: what the CAPA controller does to build clusters (VPCs, instances, load balancers). */
function controllersStatements(): IamStatement[] {
    return [
        allow(
            [
                "ec2:DescribeIpamPools",
                "ec2:AllocateIpamPoolCidr",
                "ec2:AttachNetworkInterface",
                "ec2:DetachNetworkInterface",
                "ec2:AllocateAddress",
                "ec2:AssignIpv6Addresses",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
                "ec2:AssociateRouteTable",
                "ec2:AssociateVpcCidrBlock",
                "ec2:AttachInternetGateway",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:CreateCarrierGateway",
                "ec2:CreateInternetGateway",
                "ec2:CreateEgressOnlyInternetGateway",
                "ec2:CreateNatGateway",
                "ec2:CreateNetworkInterface",
                "ec2:CreateRoute",
                "ec2:CreateRouteTable",
                "ec2:CreateSecurityGroup",
                "ec2:CreateSubnet",
                "ec2:CreateTags",
                "ec2:CreateVpc",
                "ec2:CreateVpcEndpoint",
                "ec2:DisassociateVpcCidrBlock",
                "ec2:ModifyVpcAttribute",
                "ec2:ModifyVpcEndpoint",
                "ec2:DeleteCarrierGateway",
                "ec2:DeleteInternetGateway",
                "ec2:DeleteEgressOnlyInternetGateway",
                "ec2:DeleteNatGateway",
                "ec2:DeleteRouteTable",
                "ec2:ReplaceRoute",
                "ec2:DeleteSecurityGroup",
                "ec2:DeleteSubnet",
                "ec2:DeleteTags",
                "ec2:DeleteVpc",
                "ec2:DeleteVpcEndpoints",
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeCarrierGateways",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeEgressOnlyInternetGateways",
                "ec2:DescribeInstanceTypes", // listed twice upstream; kept so the document is the same
                "ec2:DescribeImages",
                "ec2:DescribeNatGateways",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeNetworkInterfaceAttribute",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeVpcAttribute",
                "ec2:DescribeVpcEndpoints",
                "ec2:DescribeVolumes",
                "ec2:DescribeTags",
                "ec2:DetachInternetGateway",
                "ec2:DisassociateRouteTable",
                "ec2:DisassociateAddress",
                "ec2:ModifyInstanceAttribute",
                "ec2:ModifyNetworkInterfaceAttribute",
                "ec2:ModifySubnetAttribute",
                "ec2:ReleaseAddress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:RunInstances",
                "ec2:TerminateInstances",
                "ec2:GetSecurityGroupsForVpc",
                "tag:GetResources",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:ConfigureHealthCheck",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
                "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
                "elasticloadbalancing:RemoveTags",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:CreateTargetGroup",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:RegisterTargets",
                "elasticloadbalancing:DeregisterTargets",
                "elasticloadbalancing:DeleteListener",
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeInstanceRefreshes",
                "autoscaling:DeleteLifecycleHook",
                "autoscaling:DescribeLifecycleHooks",
                "autoscaling:PutLifecycleHook",
                "ec2:CreateLaunchTemplate",
                "ec2:CreateLaunchTemplateVersion",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:DeleteLaunchTemplate",
                "ec2:DeleteLaunchTemplateVersions",
                "ec2:DescribeKeyPairs",
                "ec2:ModifyInstanceMetadataOptions",
                "eks:CreateAccessEntry",
                "eks:DeleteAccessEntry",
                "eks:DescribeAccessEntry",
                "eks:UpdateAccessEntry",
                "eks:ListAccessEntries",
                "eks:AssociateAccessPolicy",
                "eks:DisassociateAccessPolicy",
                "eks:ListAssociatedAccessPolicies",
            ],
            anyResource,
        ),
        allow(
            [
                "autoscaling:CancelInstanceRefresh",
                "autoscaling:CreateAutoScalingGroup",
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:CreateOrUpdateTags",
                "autoscaling:StartInstanceRefresh",
                "autoscaling:DeleteAutoScalingGroup",
                "autoscaling:DeleteTags",
            ],
            ["arn:*:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*"],
        ),
        serviceLinkedRole(
            "autoscaling.amazonaws.com",
            "arn:*:iam::*:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
        ),
        serviceLinkedRole(
            "elasticloadbalancing.amazonaws.com",
            "arn:*:iam::*:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
        ),
        serviceLinkedRole(
            "spot.amazonaws.com",
            "arn:*:iam::*:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot",
        ),
        // The controller hands the CAPA roles (and only those) to the instances it launches.
        allow(["iam:PassRole"], [`arn:*:iam::*:role/${capaIamName("*")}`]),
        allow(["secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:TagResource"], capaSecrets),
    ];
}

/** `controllers-eks.…`: the EKS part of CAPA (on by default in clusterawsadm). */
function controllersEksStatements(): IamStatement[] {
    return [
        allow(["ssm:GetParameter"], ["arn:*:ssm:*:*:parameter/aws/service/eks/optimized-ami/*"]),
        serviceLinkedRole(
            "eks.amazonaws.com",
            "arn:*:iam::*:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
        ),
        serviceLinkedRole(
            "eks-nodegroup.amazonaws.com",
            "arn:*:iam::*:role/aws-service-role/eks-nodegroup.amazonaws.com/AWSServiceRoleForAmazonEKSNodegroup",
        ),
        // Upstream pairs the service name `eks-fargate` with the role path `eks-fargate-pods`; kept as is.
        serviceLinkedRole(
            "eks-fargate.amazonaws.com",
            `arn:${PARTITION_PLACEHOLDER}:iam::*:role/aws-service-role/eks-fargate-pods.amazonaws.com/AWSServiceRoleForAmazonEKSForFargate`,
        ),
        allow(["iam:GetRole", "iam:ListAttachedRolePolicies"], ["arn:*:iam::*:role/*"]),
        allow(["iam:GetPolicy"], [awsManagedPolicyArn("AmazonEKSClusterPolicy")]),
        allow(
            [
                "eks:DescribeCluster",
                "eks:ListClusters",
                "eks:CreateCluster",
                "eks:TagResource",
                "eks:UpdateClusterVersion",
                "eks:DeleteCluster",
                "eks:UpdateClusterConfig",
                "eks:UntagResource",
                "eks:UpdateNodegroupVersion",
                "eks:DescribeNodegroup",
                "eks:DeleteNodegroup",
                "eks:UpdateNodegroupConfig",
                "eks:CreateNodegroup",
                "eks:AssociateEncryptionConfig",
                "eks:ListIdentityProviderConfigs",
                "eks:AssociateIdentityProviderConfig",
                "eks:DescribeIdentityProviderConfig",
                "eks:DisassociateIdentityProviderConfig",
            ],
            ["arn:*:eks:*:*:cluster/*", "arn:*:eks:*:*:nodegroup/*/*/*"],
        ),
        allow(
            [
                "ec2:AssociateVpcCidrBlock",
                "ec2:DisassociateVpcCidrBlock",
                "eks:ListAddons",
                "eks:CreateAddon",
                "eks:DescribeAddonVersions",
                "eks:DescribeAddon",
                "eks:DeleteAddon",
                "eks:UpdateAddon",
                "eks:TagResource",
                "eks:DescribeFargateProfile",
                "eks:CreateFargateProfile",
                "eks:DeleteFargateProfile",
            ],
            anyResource,
        ),
        allow(["iam:PassRole"], anyResource, { StringEquals: { "iam:PassedToService": "eks.amazonaws.com" } }),
        allow(["kms:CreateGrant", "kms:DescribeKey"], anyResource, {
            "ForAnyValue:StringLike": { "kms:ResourceAliases": "alias/cluster-api-provider-aws-*" },
        }),
    ];
}
