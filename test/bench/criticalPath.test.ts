// The pure parts of `npm run bench`: the critical-path scheduler and the step-duration table.
import * as assert from "assert";
import { GraphNode, schedule } from "../../tools/bench/criticalPath";
import { loadDurations, parseDurations } from "../../tools/bench/durations";

const step = (urn: string, seconds: number, extra: Partial<GraphNode> = {}): GraphNode => ({
    urn,
    name: urn,
    type: "command:local:Command",
    dependsOn: [],
    component: false,
    parts: seconds > 0 ? [{ key: urn, seconds, kind: "typical" }] : [],
    ...extra,
});
const component = (urn: string, extra: Partial<GraphNode> = {}): GraphNode => ({ ...step(urn, 0, extra), type: "fleet:index:C", component: true });

describe("bench: critical path", () => {
    it("takes the longest chain, not the serial sum, and names its steps in order", () => {
        const s = schedule([step("a", 10), step("b", 5, { dependsOn: ["a"] }), step("c", 30), step("d", 1, { dependsOn: ["b", "c"] })]);
        assert.strictEqual(s.seconds, 31);
        assert.strictEqual(s.serialSeconds, 46);
        assert.deepStrictEqual(s.path.map((p) => p.name), ["c", "d"]);
        assert.strictEqual(s.steps.get("a")!.slack, 15);
        assert.strictEqual(s.steps.get("c")!.slack, 0);
    });

    it("holds a component's children until the component's dependencies are done", () => {
        // The child lists no dependency: only its parent's dependsOn orders it after "first".
        const s = schedule([step("first", 20), component("comp", { dependsOn: ["first"] }), step("child", 5, { parent: "comp" })]);
        assert.strictEqual(s.steps.get("child")!.start, 20);
        assert.deepStrictEqual(s.path.map((p) => p.name), ["first", "child"]);
    });

    it("makes depending on a component wait for all of its children", () => {
        const s = schedule([
            component("comp"),
            step("fast", 1, { parent: "comp" }),
            step("slow", 40, { parent: "comp" }),
            step("after", 2, { dependsOn: ["comp"] }),
        ]);
        assert.strictEqual(s.steps.get("after")!.start, 40);
        assert.deepStrictEqual(s.path.map((p) => p.name), ["slow", "after"]);
    });

    it("ignores dependencies outside the graph and reports them", () => {
        const s = schedule([step("a", 3, { dependsOn: ["urn:elsewhere"] })]);
        assert.strictEqual(s.seconds, 3);
        assert.deepStrictEqual(s.unknownDependencies, ["urn:elsewhere"]);
    });

    it("refuses a dependency cycle, naming the resources", () => {
        assert.throws(() => schedule([step("a", 1, { dependsOn: ["b"] }), step("b", 1, { dependsOn: ["a"] })]), /cycle among: a, b/);
    });
});

describe("bench: step durations", () => {
    it("reads backticked rows and requires a number, a kind and a source", () => {
        const table = parseDurations(["| Key | Step | Seconds | Kind | Source |", "| --- | --- | ---: | --- | --- |", "| `x` | thing | 12 | typical | somewhere |"].join("\n"));
        assert.deepStrictEqual(table.get("x"), { key: "x", step: "thing", seconds: 12, kind: "typical", source: "somewhere" });
        assert.throws(() => parseDurations("| `x` | thing | soon | typical | s |"), /not a non-negative number/);
        assert.throws(() => parseDurations("| `x` | thing | 1 | guess | s |"), /expected one of/);
        assert.throws(() => parseDurations("| `x` | thing | 1 | typical |  |"), /needs a source/);
    });

    it("docs/step-durations.md has every figure the bench maps steps to, each with a source", () => {
        const table = loadDurations();
        const needed = [
            "preflight", "kind-create", "clusterctl-init", "capd-cluster-ready", "capa-cluster-ready", "clusterctl-move", "pivot-guards",
            "pivot-rollout-watch", "poll-latency", "helm-release", "flux-instance-ready", "flux-sync", "k8s-apply",
            "iam-role", "iam-policy", "iam-attachment", "iam-instance-profile", "aws-call",
        ];
        for (const key of needed) assert.ok(table.has(key), `missing ${key}`);
        for (const d of table.values()) assert.ok(d.source.length > 10, `${d.key}: source too short`);
    });
});
