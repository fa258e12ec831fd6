// scripts/install-clis.sh with fake `curl` (serving release files by URL, as GitHub and dl.k8s.io would)
// and a fake `go` that records every call and answers as the real one does (`mod download -json`, `mod
// edit -json`); its `build` writes a clusterctl that reports the -X version flags it was linked with, as
// the real linker makes it do. Proves: the release files are checked against the checksums their projects
// publish, clusterctl is built with the release's version flags, and nothing unverified lands in DIR.
import * as assert from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { runSync } from "../support/bounds";

const repo = path.resolve(__dirname, "../..");
const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const clusterApiVersion = (yaml.load(fs.readFileSync(path.join(repo, "Pulumi.yaml"), "utf8")) as { config: { clusterApiVersion: { default: string } } }).config.clusterApiVersion.default;
const pulumiVersion = (JSON.parse(fs.readFileSync(path.join(repo, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> }).packages["node_modules/@pulumi/pulumi"].version;
const commit = "560d4acf507bc7cac34b2da449fa5cd53eaeb149";

const fakeCurl = `#!/usr/bin/env bash
out=""; url=""
while (($#)); do case $1 in -fsSLo) out=$2; shift 2 ;; *) url=$1; shift ;; esac; done
echo "$url" >>"$FAKE_LOG.curl"
src="$FAKE_RELEASES/\${url#https://}"
[[ -f $src ]] || { echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; }
cp "$src" "$out"
`;

const fakeGo = `#!/usr/bin/env node
const fs = require("fs"), path = require("path");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_LOG + ".go", JSON.stringify({ cwd: process.cwd(), args, GOFLAGS: process.env.GOFLAGS, GOBIN: process.env.GOBIN }) + "\\n");
const modules = JSON.parse(fs.readFileSync(process.env.FAKE_MODULES, "utf8"));
const [a, b, c] = args;
if (a === "mod" && b === "download" && c === "-json") {
  const m = modules[args[3]];
  if (!m) { console.log(JSON.stringify({ Path: args[3].split("@")[0], Error: args[3] + ": not found" }, null, "\\t")); process.exit(1); }
  console.log(JSON.stringify({ Path: args[3].split("@")[0], Version: args[3].split("@")[1], Dir: m.dir, GoMod: m.gomod, Origin: { VCS: "git", URL: "https://github.com/kubernetes-sigs/cluster-api", Hash: m.hash } }, null, "\\t"));
} else if (a === "mod" && b === "init") {
  fs.writeFileSync("go.mod", "module " + c + "\\n\\ngo 1.26\\n");
} else if (a === "mod" && b === "edit" && c === "-json") {
  console.log(fs.readFileSync(args[3] + ".json", "utf8"));
} else if (a === "mod" && b === "edit") {
  fs.appendFileSync("go.mod", args.slice(2).map((e) => "// " + e + "\\n").join(""));
} else if (a === "build") {
  const ldflags = args[args.indexOf("-ldflags") + 1];
  const version = (/-X sigs\\.k8s\\.io\\/cluster-api\\/version\\.gitVersion=(\\S+)/.exec(ldflags) || [])[1] || "";
  const dir = args[args.indexOf("-o") + 1];
  fs.writeFileSync(path.join(dir, "clusterctl"), '#!/bin/bash\\n[[ "$*" == "version -o short" ]] && echo "' + version + '"\\n', { mode: 0o755 });
} else if (a === "install" && b === "filippo.io/age/cmd/...@v1.2.1") {
  for (const t of ["age", "age-keygen"]) fs.writeFileSync(path.join(process.env.GOBIN, t), "#!/bin/bash\\necho v1.2.1\\n", { mode: 0o755 });
} else { console.error("go: unexpected " + args.join(" ")); process.exit(2); }
`;

function setup() {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "install-clis-"));
    const bin = path.join(tmp, "bin");
    const releases = path.join(tmp, "releases");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "curl"), fakeCurl, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "go"), fakeGo, { mode: 0o755 });
    const put = (url: string, content: string, mode = 0o755) => {
        const file = path.join(releases, url.replace(/^https:\/\//, ""));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content, { mode });
        return file;
    };
    // kind: the binary and its .sha256sum ("<hash>  <asset>").
    const kindBase = "https://github.com/kubernetes-sigs/kind/releases/download/v0.29.0";
    const kind = put(`${kindBase}/kind-linux-amd64`, '#!/bin/bash\necho "kind v0.29.0 go1.24.2 linux/amd64"\n');
    put(`${kindBase}/kind-linux-amd64.sha256sum`, `${sha256(kind)}  kind-linux-amd64\n`);
    // kubectl: the binary and its .sha256 (the hash alone).
    const kubectlBase = "https://dl.k8s.io/release/v1.33.1/bin/linux/amd64";
    const kubectl = put(`${kubectlBase}/kubectl`, '#!/bin/bash\nprintf \'{\\n  "clientVersion": {\\n    "major": "1",\\n    "minor": "33",\\n    "gitVersion": "v1.33.1"\\n  },\\n  "kustomizeVersion": "v5.6.0"\\n}\\n\'\n');
    put(`${kubectlBase}/kubectl.sha256`, sha256(kubectl));
    // pulumi: the archive (pulumi/<binaries>) and the release's checksums.txt.
    const stage = path.join(tmp, "stage");
    fs.mkdirSync(path.join(stage, "pulumi"), { recursive: true });
    fs.writeFileSync(path.join(stage, "pulumi", "pulumi"), `#!/bin/bash\necho v${pulumiVersion}\n`, { mode: 0o755 });
    const pulumiBase = `https://github.com/pulumi/pulumi/releases/download/v${pulumiVersion}`;
    const archive = put(`${pulumiBase}/pulumi-v${pulumiVersion}-linux-x64.tar.gz`, "");
    runSync("tar of the fake pulumi release", "tar", ["-czf", archive, "-C", stage, "pulumi"]);
    put(`${pulumiBase}/pulumi-${pulumiVersion}-checksums.txt`, `${"0".repeat(64)}  pulumi-v${pulumiVersion}-darwin-x64.tar.gz\n${sha256(archive)}  pulumi-v${pulumiVersion}-linux-x64.tar.gz\n`);
    // cluster-api's module: upstream go.mod with its one local replace.
    const gomod = path.join(tmp, "cluster-api.go.mod");
    fs.writeFileSync(`${gomod}.json`, JSON.stringify({ Module: { Path: "sigs.k8s.io/cluster-api" }, Go: "1.24.0", Require: [{ Path: "sigs.k8s.io/cluster-api/api", Version: "v0.0.0" }], Replace: [{ Old: { Path: "sigs.k8s.io/cluster-api/api" }, New: { Path: "./api" } }, { Old: { Path: "sigs.k8s.io/cluster-api/test" }, New: { Path: "./test" } }] }));
    const modulesFile = path.join(tmp, "modules.json");
    fs.writeFileSync(modulesFile, JSON.stringify({ [`sigs.k8s.io/cluster-api@${clusterApiVersion}`]: { dir: tmp, gomod, hash: commit } }));
    const dir = path.join(tmp, "dest");
    const log = path.join(tmp, "log");
    const run = () =>
        runSync("scripts/install-clis.sh", "bash", [path.join(repo, "scripts", "install-clis.sh"), dir], {
            env: { PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: tmp, XDG_CACHE_HOME: path.join(tmp, "cache"), FAKE_RELEASES: releases, FAKE_MODULES: modulesFile, FAKE_LOG: log },
        });
    const goCalls = () => fs.readFileSync(`${log}.go`, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { cwd: string; args: string[]; GOBIN?: string });
    return { tmp, dir, releases, kindBase, run, goCalls, log };
}

describe("scripts/install-clis.sh", () => {
    it("installs the release binaries checked against their published checksums, and clusterctl built with the release's version flags", function () {
        const t = setup();
        try {
            const r = t.run();
            assert.strictEqual(r.status, 0, r.stderr);
            assert.deepStrictEqual(fs.readdirSync(t.dir).sort(), ["age", "age-keygen", "clusterctl", "kind", "kubectl", "pulumi"]);
            assert.strictEqual(runSync("clusterctl version", path.join(t.dir, "clusterctl"), ["version", "-o", "short"]).stdout, `${clusterApiVersion}\n`);

            const calls = t.goCalls();
            const wrapper = calls.find((c) => c.args[0] === "mod" && c.args[1] === "edit" && c.args[2] !== "-json")!;
            assert.deepStrictEqual(wrapper.args.slice(2), [`-require=sigs.k8s.io/cluster-api@${clusterApiVersion}`, "-go=1.24.0", `-replace=sigs.k8s.io/cluster-api/api=sigs.k8s.io/cluster-api/api@${clusterApiVersion}`]);
            const build = calls.find((c) => c.args[0] === "build")!;
            const minor = clusterApiVersion.split(".")[1];
            assert.deepStrictEqual(build.args.slice(0, 3), ["build", "-trimpath", "-o"]);
            assert.strictEqual(build.args[5], `-s -w -X sigs.k8s.io/cluster-api/version.gitVersion=${clusterApiVersion} -X sigs.k8s.io/cluster-api/version.gitMajor=1 -X sigs.k8s.io/cluster-api/version.gitMinor=${minor} -X sigs.k8s.io/cluster-api/version.gitCommit=${commit} -X sigs.k8s.io/cluster-api/version.gitTreeState=clean -X sigs.k8s.io/cluster-api/version.buildDate=1970-01-01T00:00:00Z`);
            assert.strictEqual(build.args[6], "sigs.k8s.io/cluster-api/cmd/clusterctl");
            assert.strictEqual(build.cwd, wrapper.cwd, "built in the wrapper module");
            assert.ok(calls.some((c) => c.args.join(" ") === "install filippo.io/age/cmd/...@v1.2.1"));
            assert.ok(!calls.some((c) => c.args[0] === "install" && c.args[1].startsWith("sigs.k8s.io/")), "no go install of clusterctl (Go refuses it)");
        } finally {
            fs.rmSync(t.tmp, { recursive: true, force: true });
        }
    });

    it("refuses a release file whose checksum differs from the published one, and installs nothing", function () {
        const t = setup();
        try {
            fs.appendFileSync(path.join(t.releases, t.kindBase.replace(/^https:\/\//, ""), "kind-linux-amd64"), "# tampered\n");
            const r = t.run();
            assert.strictEqual(r.status, 1);
            assert.match(r.stderr, /install-clis: ERROR: kind has sha256 [0-9a-f]{64}, but kind-linux-amd64\.sha256sum says [0-9a-f]{64}: not installing it/);
            assert.deepStrictEqual(fs.readdirSync(t.dir), []);
        } finally {
            fs.rmSync(t.tmp, { recursive: true, force: true });
        }
    });
});
