// The Flux Operator as a local Helm chart, for `pulumi up` on a machine that cannot reach ghcr.io (the
// program's `fluxOperatorBootstrapChart` key). Its objects are the operator's own install manifests:
// `kustomize build config/default` of github.com/controlplaneio-fluxcd/flux-operator at the pinned
// version, from the Go module proxy (checksum-verified), the CRDs in crds/ and everything else in
// templates/. The namespace is left out, as the upstream chart does (the program creates flux-system).
// Built once into the engine tools cache.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";

interface Manifest {
    kind: string;
    metadata: { name: string };
}

/** The go binary scripts/engine-tools.sh uses: $GO, else go on PATH, else Go's default install. */
function goBinary(): string {
    if (process.env.GO) return process.env.GO;
    const onPath = (process.env.PATH ?? "").split(":").find((dir) => dir && fs.existsSync(path.join(dir, "go")));
    return onPath ? path.join(onPath, "go") : "/usr/local/go/bin/go";
}

function goModuleDir(cacheRoot: string, moduleAtVersion: string): string {
    const out = execFileSync(goBinary(), ["mod", "download", "-json", moduleAtVersion], {
        cwd: cacheRoot,
        encoding: "utf8",
        env: { ...process.env, GOMODCACHE: path.join(cacheRoot, "gomod"), GOFLAGS: "-modcacherw", GOTOOLCHAIN: "local", GOWORK: "off" },
    });
    const info = JSON.parse(out) as { Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(`go mod download ${moduleAtVersion}: ${info.Error ?? out}`);
    return info.Dir;
}

/** Returns the chart directory (named flux-operator), building it when the cache lacks it. */
export function fluxOperatorChart(binDir: string, version: string): string {
    const cacheRoot = path.dirname(fs.realpathSync(binDir));
    const versionDir = path.join(cacheRoot, "charts", `flux-operator-${version}`);
    const chartDir = path.join(versionDir, "flux-operator");
    if (fs.existsSync(path.join(chartDir, "Chart.yaml"))) return chartDir;

    const source = goModuleDir(cacheRoot, `github.com/controlplaneio-fluxcd/flux-operator@${version}`);
    const rendered = execFileSync(path.join(binDir, "kustomize"), ["build", path.join(source, "config", "default")], { encoding: "utf8", maxBuffer: 64 << 20 });
    const objects = (yaml.loadAll(rendered) as Manifest[]).filter((o) => o && o.kind !== "Namespace");
    // Built aside and renamed into place: an interrupted build leaves no half chart in the cache.
    const partial = `${versionDir}.partial`;
    const building = path.join(partial, "flux-operator");
    fs.rmSync(partial, { recursive: true, force: true });
    fs.mkdirSync(path.join(building, "crds"), { recursive: true });
    fs.mkdirSync(path.join(building, "templates"));
    for (const object of objects) {
        const text = yaml.dump(object, { lineWidth: -1, noRefs: true });
        const folder = object.kind === "CustomResourceDefinition" ? "crds" : "templates";
        if (folder === "templates" && text.includes("{{")) throw new Error(`${object.kind} ${object.metadata.name} contains "{{", which Helm would read as a template`);
        fs.writeFileSync(path.join(building, folder, `${object.kind.toLowerCase()}-${object.metadata.name}.yaml`), text);
    }
    fs.writeFileSync(
        path.join(building, "Chart.yaml"),
        yaml.dump({ apiVersion: "v2", name: "flux-operator", version: version.replace(/^v/, ""), appVersion: version, description: "Flux Operator install manifests (config/default) as a local chart" }),
    );
    fs.rmSync(versionDir, { recursive: true, force: true });
    fs.renameSync(partial, versionDir);
    return chartDir;
}
