// The controllers tier: after the real `pulumi up` of `local` (the lifecycle test's world), the real Flux
// Operator, source-controller, kustomize-controller and helm-controller take over the permanent side from
// the harness (test/real/flux.ts), syncing the committed render pushed by the real flux CLI to the real
// registry at the address the render names. It shows what the hand-off promises: Flux applies from Git
// the objects the program created, as their only owner, without a conflict or a field reverted, upgrades
// the operator's release the program installed, prunes what Git drops and never what it must keep, and
// keeps reconciling after `pulumi destroy`.
import * as assert from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { environmentRoot, renderDigest, renderFleetRepository, syncDirectory } from "../../render/fleetRepo";
import { readCommittedRender } from "../../stacks/fleetCheckout";
import { EnvironmentSpec } from "../../stacks/spec";
import { pollUntil } from "../support/bounds";
import { RealFlux, startRealFlux } from "../real/flux";
import { RealWorld } from "../real/world";
import { fluxOperatorChart } from "./fluxOperatorChart";
import { loadLocalSpec, newAgeKey, startLocalStack } from "./localStack";
import { engineToolsBinDir, PulumiWorkspace, REPO } from "./workspace";

interface ManagedField {
    manager: string;
    operation: string;
    subresource?: string;
    fieldsV1?: Record<string, unknown>;
}

interface ServerObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; uid: string; resourceVersion: string; managedFields?: ManagedField[]; annotations?: Record<string, string> };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    spec?: any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    status?: any;
}

interface RenderedObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
    spec?: Record<string, unknown>;
}

const key = (o: { kind: string; metadata: { name: string; namespace?: string } }) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
const group = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0] : "");
/** kubectl's name for a kind: kind.group (the core group has none). */
const kubectlType = (o: { apiVersion: string; kind: string }) => [o.kind.toLowerCase(), group(o.apiVersion)].filter(Boolean).join(".");

/** The objects of a render's management cluster directory (its Kustomization's resources). */
function renderedObjects(files: ReadonlyMap<string, string>, mgmtDir: string): RenderedObject[] {
    return [...files]
        .filter(([file]) => file.startsWith(`${mgmtDir}/`) && !file.endsWith("/kustomization.yaml"))
        .flatMap(([, content]) => (yaml.loadAll(content) as RenderedObject[]).filter(Boolean));
}

const ready = (o: ServerObject | undefined) => (o?.status?.conditions as { type: string; status: string }[] | undefined)?.some((c) => c.type === "Ready" && c.status === "True");

describe("the real controllers after the pivot: Flux and the Flux Operator reconcile what the program handed off", function () {
    const spec: EnvironmentSpec = loadLocalSpec();
    const mgmtDir = syncDirectory(spec, spec.managementCluster);
    const { all: committed, generated } = readCommittedRender(REPO, spec);
    const render = renderedObjects(committed, mgmtDir);
    const instanceInGit = render.find((o) => o.kind === "FluxInstance") as RenderedObject & { spec: { distribution: { artifact: string }; sync: { url: string; ref: string } } };
    const chartSource = render.find((o) => o.kind === "OCIRepository" && o.metadata.name === "flux-operator") as RenderedObject & { spec: { url: string; ref: { tag: string } } };
    let workDir: string;
    let world: RealWorld;
    let pulumi: PulumiWorkspace;
    let flux: RealFlux;
    /** Kind/namespace/name of every object the program created through the kubernetes provider. */
    let created: Set<string>;

    const get = (o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): ServerObject | undefined => {
        try {
            const args = ["get", kubectlType(o), o.metadata.name, "-o", "json", "--show-managed-fields", ...(o.metadata.namespace ? ["-n", o.metadata.namespace] : [])];
            return JSON.parse(world.permanent.kubectl(args)) as ServerObject;
        } catch {
            return undefined;
        }
    };
    const kustomization = () => get({ apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: spec.flux.syncName, namespace: "flux-system" } });
    const fluxLogs = () => ["flux-operator", "source-controller", "kustomize-controller", "helm-controller"].map((n) => `--- ${n}:\n${flux.log(n, 12)}`).join("\n");
    /** Asks source-controller to fetch the artifact now (what `flux reconcile source oci` does), then waits for the Kustomization to apply the render of `digest` (renderDigest). */
    const syncRevision = async (digest: string) => {
        const revision = digest.replace(/^sha256:/, "");
        world.permanent.kubectl(["annotate", "--overwrite", "-n", "flux-system", "ocirepository", spec.flux.syncName, `reconcile.fluxcd.io/requestedAt=${Date.now()}`]);
        return pollUntil(
            `the Kustomization ${spec.flux.syncName} applying ${revision}`,
            () => {
                const k = kustomization();
                return ready(k) && String(k?.status?.lastAppliedOriginRevision ?? k?.status?.lastAppliedRevision).includes(revision) ? k : undefined;
            },
            () => `${JSON.stringify(kustomization()?.status ?? "no Kustomization", null, 1)}\n${fluxLogs()}`,
        );
    };
    const pushRender = async (files: ReadonlyMap<string, string>) => {
        const dir = fs.mkdtempSync(path.join(workDir, "render-"));
        for (const [file, content] of files) {
            fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
            fs.writeFileSync(path.join(dir, file), content);
        }
        const revision = renderDigest(files);
        await flux.pushRender(path.join(dir, environmentRoot(spec)), environmentRoot(spec), `${instanceInGit.spec.sync.url}:${instanceInGit.spec.sync.ref}`, spec.environment, revision);
        return revision;
    };

    before(async function () {
        const binDir = engineToolsBinDir();
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-controllers-"));
        ({ world, pulumi } = await startLocalStack({ workDir, binDir, sopsAgeKey: newAgeKey() }));
        flux = await startRealFlux({ workDir: path.join(workDir, "flux"), binDir, permanent: world.permanent, fleetSourceHost: new URL(instanceInGit.spec.sync.url.replace(/^oci:/, "http:")).hostname });
        // What the render pulls from ghcr.io: the operator's distribution manifests (the ones it ships, which
        // upstream publishes as this artifact) and its chart (the same local chart `pulumi up` installs).
        const storagePath = path.join(path.dirname(fs.realpathSync(path.join(binDir, "flux-operator"))), "..", "share", "flux-operator", "data");
        await flux.pushGhcrArtifact(instanceInGit.spec.distribution.artifact.replace(/^oci:\/\//, ""), storagePath, spec.versions.fluxOperator);
        await flux.pushGhcrChart(chartSource.spec.url.replace(/^oci:\/\/ghcr\.io\//, ""), fluxOperatorChart(binDir, spec.versions.fluxOperator), chartSource.spec.ref.tag);
        // The fleet-source step pushes with docker, which cannot run here: the same push, with the real CLI.
        await pushRender(committed);
        // From here the real Flux Operator reconciles the FluxInstance, during `pulumi up` as on a real cluster.
        await world.controllers.handOver("flux-operator");
        const installed = flux.startAsInstalled(storagePath);
        installed.catch(() => undefined); // awaited below; a failure after a failed `up` is not an unhandled rejection
        // A failure to start shows at once, not as `up` waiting for a FluxInstance nobody reconciles.
        await Promise.race([pulumi.ok(["up", "--yes", "--skip-preview"], { timeoutSeconds: 1200 }), installed.then(() => new Promise(() => undefined))]);
        await installed;
        const state = JSON.parse((await pulumi.ok(["stack", "export"])).stdout) as { deployment: { resources: { type: string; outputs?: RenderedObject }[] } };
        created = new Set(state.deployment.resources.filter((r) => r.type.startsWith("kubernetes:") && r.outputs?.kind).map((r) => key(r.outputs as RenderedObject)));
    });

    after(async function () {
        await flux?.stop();
        await world?.stop();
        if (workDir && process.env.FLEET_KEEP_TEST_WORLDS !== "1") fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("the Flux Operator reconciles the FluxInstance from its manifests artifact: Flux's CRDs, controllers and the generated sync", async function () {
        const instance = await pollUntil(
            "the FluxInstance flux Ready for its generation",
            () => {
                const i = get({ apiVersion: "fluxcd.controlplane.io/v1", kind: "FluxInstance", metadata: { name: "flux", namespace: "flux-system" } });
                return ready(i) && i?.status?.lastAppliedRevision ? i : undefined;
            },
            fluxLogs,
        );
        assert.match(String(instance.status.lastAppliedRevision), new RegExp(`^${spec.versions.fluxDistribution}@`), "the operator installed another Flux version than the render's");
        const source = get({ apiVersion: "source.toolkit.fluxcd.io/v1", kind: "OCIRepository", metadata: { name: spec.flux.syncName, namespace: "flux-system" } });
        assert.strictEqual(source?.spec.url, instanceInGit.spec.sync.url, "the generated sync source is not the render's");
        assert.strictEqual(source?.spec.insecure, true, "the render's patch (insecure: true for the local source) is not applied to the sync source");
    });

    it("kustomize-controller applies the management cluster's path from the pushed artifact; every object the program created is owned by it alone", async function () {
        const applied = await syncRevision(renderDigest(committed));
        const inventory = new Set(((applied.status.inventory?.entries ?? []) as { id: string }[]).map((e) => e.id));
        const handedOff = render.filter((o) => created.has(key(o)));
        assert.ok(handedOff.length >= 3, `the program created only ${handedOff.map(key).join(", ")} of the render`);
        for (const o of render) {
            const id = `${o.metadata.namespace ?? ""}_${o.metadata.name}_${group(o.apiVersion)}_${o.kind}`;
            assert.ok(inventory.has(id), `${key(o)} is not in the Kustomization's inventory`);
        }
        for (const o of handedOff) {
            // Besides kustomize-controller's apply, a controller may keep its finalizer and the status; nothing else.
            const others = (get(o)?.metadata.managedFields ?? [])
                .filter((f) => f.subresource !== "status" && !(f.manager === "kustomize-controller" && f.operation === "Apply"))
                .filter((f) => JSON.stringify(f.fieldsV1 ?? {}) !== JSON.stringify({ "f:metadata": { "f:finalizers": (f.fieldsV1?.["f:metadata"] as Record<string, unknown>)?.["f:finalizers"] } }));
            assert.deepStrictEqual(others.map((f) => `${f.manager} ${f.operation} ${JSON.stringify(f.fieldsV1)}`), [], `${key(o)}: fields owned by another manager than kustomize-controller's apply`);
        }
    });

    it("helm-controller upgrades the operator's release the program installed, in place: same release, next revision", async function () {
        const release = await pollUntil(
            "the HelmRelease flux-operator Ready",
            () => {
                const r = get({ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", metadata: { name: "flux-operator", namespace: "flux-system" } });
                return ready(r) ? r : undefined;
            },
            fluxLogs,
        );
        const history = release?.status?.history as { version: number; status: string }[];
        const secrets = JSON.parse(world.permanent.kubectl(["get", "secrets", "-n", "flux-system", "-l", "owner=helm,name=flux-operator", "-o", "json"])).items as { metadata: { name: string; labels: Record<string, string> } }[];
        const revisions = secrets.map((s) => `${s.metadata.labels.version} ${s.metadata.labels.status}`).sort();
        assert.deepStrictEqual(revisions, ["1 superseded", "2 deployed"], `the release's revisions: ${revisions.join(", ")} (history ${JSON.stringify(history)})`);
    });

    it("a second `pulumi up`: no changes, and no object Flux owns is written", async function () {
        const before = new Map(render.map((o) => [key(o), get(o)?.metadata.resourceVersion]));
        await pulumi.ok(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
        const rewritten = render.filter((o) => get(o)?.metadata.resourceVersion !== before.get(key(o))).map(key);
        assert.deepStrictEqual(rewritten, [], "pulumi up wrote objects Flux owns");
        const k = kustomization() as ServerObject;
        assert.ok(ready(k), `the Kustomization is not Ready after the second up: ${JSON.stringify(k?.status?.conditions)}`);
    });

    it("a module dropped from the render is pruned, and comes back when the render has it again; the FluxInstance, the operator release and the management Cluster are never pruned", async function () {
        const [dropped] = [...spec.bootstrapModules].sort((a, b) => a.name.localeCompare(b.name));
        const without = renderFleetRepository({ ...spec, bootstrapModules: spec.bootstrapModules.filter((m) => m !== dropped) });
        const droppedObjects = render.filter((o) => !renderedObjects(without, mgmtDir).some((w) => key(w) === key(o)));
        assert.ok(droppedObjects.length > 0, `dropping module ${dropped.name} changes no object of the render`);
        const kept = render.filter((o) => ["FluxInstance", "HelmRelease", "Cluster"].includes(o.kind) && !droppedObjects.includes(o));
        // The hand-written files beside the render stay, as in a checkout where only the render changed.
        const pushed = new Map([...[...committed].filter(([file]) => !generated.has(file)), ...without]);
        await syncRevision(await pushRender(pushed));
        await pollUntil(`the objects of module ${dropped.name} pruned`, () => (droppedObjects.every((o) => get(o) === undefined) ? true : undefined), () => droppedObjects.filter((o) => get(o)).map(key).join(", "));
        for (const o of kept) assert.ok(get(o), `${key(o)} was pruned`);
        await syncRevision(await pushRender(committed));
        for (const o of droppedObjects) assert.ok(get(o), `${key(o)} did not come back with the full render`);
    });

    it("`pulumi destroy` leaves every handed-off object in place and reconciling", async function () {
        const uids = new Map(render.map((o) => [key(o), get(o)?.metadata.uid]));
        await pulumi.ok(["destroy", "--yes", "--skip-preview"], { timeoutSeconds: 600 });
        for (const o of render) assert.strictEqual(get(o)?.metadata.uid, uids.get(key(o)), `destroy deleted or replaced ${key(o)}`);
        await syncRevision(renderDigest(committed));
        for (const name of ["FluxInstance flux", "HelmRelease flux-operator"]) {
            const [kind, objectName] = name.split(" ");
            const o = render.find((r) => r.kind === kind && r.metadata.name === objectName) as RenderedObject;
            assert.ok(ready(get(o)), `${name} is not Ready after destroy`);
        }
    });
});
