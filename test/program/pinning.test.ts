// Supply chain: every version that reaches a cluster is pinned, in the plan of every stack.
import * as assert from "assert";
import { Plan, planStack } from "../../tools/planner";
import { K8sObject } from "../../render/types";

const exactVersion = /^v?\d+\.\d+\.\d+$/;
const digest = /@sha256:[a-f0-9]{64}$/;

/** Everything in a plan that reaches a cluster without an exact version, as readable findings. */
function unpinned(plan: Plan): string[] {
    const findings: string[] = [];
    for (const r of plan.resources) {
        const env = (r.inputs.environment ?? {}) as Record<string, unknown>;
        for (const [key, value] of Object.entries(env)) {
            if (/^CAPI_/.test(key) && !/^[a-z0-9-]+:v\d+\.\d+\.\d+$/.test(String(value))) findings.push(`${r.name}: provider ${key}=${String(value)}`);
        }
        if ("KIND_NODE_IMAGE" in env && !digest.test(String(env.KIND_NODE_IMAGE))) findings.push(`${r.name}: kind node image ${String(env.KIND_NODE_IMAGE)} without digest`);
        if (r.type === "kubernetes:helm.sh/v3:Release" && !exactVersion.test(String(r.inputs.version))) findings.push(`${r.name}: Helm chart version ${String(r.inputs.version)}`);
    }
    const objects: K8sObject[] = [...plan.manifests.values()].flat();
    for (const object of objects) {
        const spec = (object.spec ?? {}) as Record<string, unknown>;
        if (object.kind === "HelmChartProxy" && !exactVersion.test(String(spec.version ?? ""))) findings.push(`HelmChartProxy ${object.metadata.name}: version ${String(spec.version)}`);
        if (object.kind === "FluxInstance") {
            const distribution = spec.distribution as { version?: string; artifact?: string };
            if (!exactVersion.test(distribution.version ?? "")) findings.push(`FluxInstance: distribution ${distribution.version}`);
            if (!/:v\d+\.\d+\.\d+(@sha256:[a-f0-9]{64})?$/.test(distribution.artifact ?? "")) findings.push(`FluxInstance: artifact ${distribution.artifact}`);
        }
        // Any container image anywhere (e.g. the AWS cloud-controller-manager), and templated values.
        const text = JSON.stringify(object);
        for (const match of text.matchAll(/"image":"([^"]+)"/g)) {
            if (!/:[\w.-]*\d[\w.-]*(@sha256:[a-f0-9]{64})?$/.test(match[1]) || /:latest$/.test(match[1])) findings.push(`${object.kind} ${object.metadata.name}: image ${match[1]}`);
        }
        for (const match of text.matchAll(/oci:\/\/[^"\\\s]+/g)) {
            if (/:latest\b/.test(match[0])) findings.push(`${object.kind} ${object.metadata.name}: ${match[0]}`);
        }
    }
    return findings;
}

describe("supply chain: nothing unpinned reaches a cluster", () => {
    const plans: Plan[] = [];
    before(async () => {
        for (const stack of ["local", "staging"]) {
            const result = await planStack({ stack, overrides: { gitUsername: "u", gitPassword: "FAKE-GIT-TOKEN" } });
            assert.ok(result.ok);
            plans.push(result.plan);
        }
    });

    it("pins providers, charts, the Flux distribution and artifact, images and the kind node image", () => {
        for (const plan of plans) assert.deepStrictEqual(unpinned(plan), [], plan.stack);
    });

    it("would notice an unpinned chart, artifact or image (the check can fail)", () => {
        const doctored: Plan = { ...plans[0], manifests: new Map(plans[0].manifests) };
        const permanent = doctored.manifests.get("permanent")!.map((o) => JSON.parse(JSON.stringify(o)) as K8sObject);
        const proxy = permanent.find((o) => o.kind === "HelmChartProxy")!;
        (proxy.spec as Record<string, unknown>).version = "";
        const instance = permanent.find((o) => o.kind === "FluxInstance")!;
        (instance.spec as { distribution: { artifact: string } }).distribution.artifact = "oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests:latest";
        permanent.push({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "nginx" }] } });
        doctored.manifests.set("permanent", permanent);
        const findings = unpinned(doctored).join("\n");
        assert.match(findings, /HelmChartProxy .*: version/);
        assert.match(findings, /FluxInstance: artifact .*:latest/);
        assert.match(findings, /Pod p: image nginx/);
    });

    it("pins the Flux artifact by digest too when the stack gives one", async () => {
        const sha = `sha256:${"a".repeat(64)}`;
        const result = await planStack({ stack: "local", overrides: { fluxArtifactDigest: sha } });
        assert.ok(result.ok);
        const instance = result.plan.manifests.get("permanent")!.find((o) => o.kind === "FluxInstance")!;
        assert.match(String((instance.spec as { distribution: { artifact: string } }).distribution.artifact), new RegExp(`:v\\d+\\.\\d+\\.\\d+@${sha}$`));
    });
});
