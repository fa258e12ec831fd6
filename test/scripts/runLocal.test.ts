// `npm start` (scripts/run-local.sh) against fake CLIs on PATH: it leaves the working tree clean and the
// user's Pulumi login alone, never runs with an empty passphrase, and names a Docker engine that does not
// answer. The fake pulumi records each call's arguments, working directory and environment, and does for
// `stack ls --json` and `stack init` what the real CLI does (checked with pulumi v3.248.0: `stack init`
// writes `encryptionsalt: ...` into Pulumi.<stack>.yaml of the directory it runs in).
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runSync } from "../support/bounds";

const repo = path.resolve(__dirname, "../..");
const exe = (file: string, text: string) => fs.writeFileSync(file, `#!/usr/bin/env bash\n${text}`, { mode: 0o755 });

const fakePulumi = `set -euo pipefail
node -e 'const fs = require("fs"); fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify({ argv: process.argv.slice(1), cwd: process.cwd(),
  env: Object.fromEntries(["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"].filter((k) => k in process.env).map((k) => [k, process.env[k]])) }) + "\\n")' -- "$@"
if [[ $1 == login ]]; then # what the real login does: the backend becomes the user's current one
  printf '{"current": "%s"}\n' "$2" >"$HOME/.pulumi/credentials.json"; echo "Logged in to $HOSTNAME as \${USER:-user} ($2)"; exit 0
fi
[[ \${PULUMI_BACKEND_URL:-} == file://* ]] || { echo "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions" >&2; exit 255; }
stacks="\${PULUMI_BACKEND_URL#file://}/.pulumi/stacks/fleet-bootstrap"
passphrase() { [[ -n \${PULUMI_CONFIG_PASSPHRASE:-} || -s \${PULUMI_CONFIG_PASSPHRASE_FILE:-/nonexistent} ]] || { echo "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables" >&2; exit 255; }; }
case "$1 \${2:-}" in
  "stack ls")
    if [[ -f $stacks/local.json ]]; then printf '[\\n  {\\n    "name": "local",\\n    "current": false,\\n    "resourceCount": 0\\n  }\\n]\\n'; else echo "[]"; fi ;;
  "stack init")
    passphrase
    [[ ! -f $stacks/local.json ]] || { echo "error: stack 'local' already exists" >&2; exit 255; }
    mkdir -p "$stacks" && echo '{}' >"$stacks/local.json"
    echo "encryptionsalt: v1:lL5vqw5IR3Q=:v1:6F2axGSKU31BtH7o:3HSxygjVbriQosmPhpxQ17j0+J2++Q==" >"Pulumi.$3.yaml"
    echo "Created stack '$3'" ;;
  "up -s")
    passphrase
    [[ $4 == --config-file ]] && grep -q '^encryptionsalt: v1:lL5vqw5IR3Q=' "$5" ;;
  *) ;;
esac
`;

interface Call {
    argv: string[];
    cwd: string;
    env: Record<string, string>;
}

function setup(options: { dockerDown?: boolean; without?: string[] } = {}) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "npm-start-"));
    const checkout = path.join(tmp, "repo");
    const bin = path.join(tmp, "bin");
    const home = path.join(tmp, "home");
    fs.mkdirSync(path.join(checkout, "scripts"), { recursive: true });
    for (const f of ["Pulumi.yaml", "Pulumi.local.yaml", ".gitignore", "scripts/run-local.sh"]) fs.copyFileSync(path.join(repo, f), path.join(checkout, f));
    fs.symlinkSync(path.join(repo, "node_modules"), path.join(checkout, "node_modules"));
    const git = (...args: string[]) => runSync(`git ${args[0]}`, "git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: checkout });
    git("init", "-q");
    git("add", "-A");
    git("commit", "-qm", "checkout");
    fs.mkdirSync(bin);
    exe(path.join(bin, "pulumi"), fakePulumi);
    exe(path.join(bin, "docker"), options.dockerDown
        ? 'echo >&1; echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1'
        : '[[ "$*" == "version --format {{.Server.Version}}" ]] && echo 28.1.1');
    for (const tool of ["kind", "clusterctl", "kubectl"]) exe(path.join(bin, tool), "exit 0");
    exe(path.join(bin, "npx"), 'echo "npx $*" >>"$FAKE_LOG.npx"');
    for (const tool of options.without ?? []) fs.rmSync(path.join(bin, tool));
    // The user's own Pulumi login, which must stay as it is.
    fs.mkdirSync(path.join(home, ".pulumi"), { recursive: true });
    const credentials = path.join(home, ".pulumi", "credentials.json");
    fs.writeFileSync(credentials, '{"current": "https://api.pulumi.com", "accessTokens": {"https://api.pulumi.com": "pul-user-token"}}\n');
    const log = path.join(tmp, "calls.jsonl");
    const env = { PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: home, FAKE_LOG: log };
    const run = (extra: Record<string, string> = {}) => runSync("scripts/run-local.sh", "bash", [path.join(checkout, "scripts", "run-local.sh")], { env: { ...env, ...extra } });
    const calls = (): Call[] => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Call) : []);
    const status = () => git("status", "--porcelain", "--untracked-files=all").stdout;
    return { tmp, checkout, home, credentials, run, calls, status, log };
}

describe("npm start (scripts/run-local.sh)", () => {
    it("runs pulumi up with a generated 0600 passphrase, a command-scoped backend and the salt outside the repository; twice; git status stays clean", () => {
        const t = setup();
        try {
            const credentialsBefore = fs.readFileSync(t.credentials, "utf8");
            const first = t.run();
            assert.strictEqual(first.status, 0, first.stderr);
            const passphraseFile = path.join(t.home, ".config", "fleet-bootstrap", "local.passphrase");
            const stackConfig = path.join(t.home, ".config", "fleet-bootstrap", "Pulumi.local.yaml");
            assert.match(first.stderr, /Generated the passphrase of the local stack's secrets into .*local\.passphrase \(mode 0600\)/);
            assert.strictEqual(fs.statSync(passphraseFile).mode & 0o777, 0o600);
            assert.ok(fs.readFileSync(passphraseFile, "utf8").trim().length >= 40, "a real passphrase");
            assert.strictEqual(fs.statSync(stackConfig).mode & 0o777, 0o600);
            assert.strictEqual(fs.statSync(path.dirname(stackConfig)).mode & 0o777, 0o700);

            const calls = t.calls();
            const backend = `file://${t.checkout}/.pulumi-state`;
            assert.deepStrictEqual(calls.map((c) => c.argv.join(" ")), ["stack ls --json", "stack init local --secrets-provider passphrase --no-select", `up -s local --config-file ${stackConfig}`]);
            for (const c of calls) {
                assert.deepStrictEqual(c.env, { PULUMI_BACKEND_URL: backend, PULUMI_CONFIG_PASSPHRASE_FILE: passphraseFile });
            }
            assert.notStrictEqual(calls[1].cwd, t.checkout, "stack init runs beside a copy of Pulumi.yaml, not in the checkout");
            assert.ok(!fs.existsSync(calls[1].cwd), "and that scratch directory is gone");
            // The program's config: the tracked stack file plus the salt.
            const merged = fs.readFileSync(stackConfig, "utf8");
            assert.match(merged, /^encryptionsalt: v1:lL5vqw5IR3Q=/m);
            assert.match(merged, /fleet-bootstrap:workloadClusters: \|/);

            // A secret set with --config-file survives the next run, the tracked config wins for the rest.
            fs.appendFileSync(stackConfig, "  fleet-bootstrap:sopsAgeKey:\n    secure: v1:D74HfmXjswYzY3KN:2v7XRGs4sa07q601Ll0qLUoYL7+E2e1Ylpp2yss0r7YT13M=\n");
            const second = t.run();
            assert.strictEqual(second.status, 0, second.stderr);
            assert.deepStrictEqual(t.calls().slice(3).map((c) => c.argv.slice(0, 2).join(" ")), ["stack ls", "up -s"]);
            assert.match(fs.readFileSync(stackConfig, "utf8"), /sopsAgeKey:\n\s+secure: v1:D74H/);
            assert.doesNotMatch(second.stderr, /Generated/);

            assert.strictEqual(t.status(), "", "git status is clean");
            assert.ok(!t.calls().some((c) => c.argv[0] === "login" || c.argv.join(" ").startsWith("stack select")), "no login, no stack select");
            assert.strictEqual(fs.readFileSync(t.credentials, "utf8"), credentialsBefore);
            assert.deepStrictEqual(fs.readdirSync(path.join(t.home, ".pulumi")), ["credentials.json"]);
        } finally {
            fs.rmSync(t.tmp, { recursive: true, force: true });
        }
    });

    it("uses the user's passphrase when given, and refuses an empty one", () => {
        const t = setup();
        try {
            const given = t.run({ PULUMI_CONFIG_PASSPHRASE: "correct horse battery staple" });
            assert.strictEqual(given.status, 0, given.stderr);
            assert.ok(t.calls().every((c) => c.env.PULUMI_CONFIG_PASSPHRASE === "correct horse battery staple" && !("PULUMI_CONFIG_PASSPHRASE_FILE" in c.env)));
            assert.ok(!fs.existsSync(path.join(t.home, ".config", "fleet-bootstrap", "local.passphrase")));
            const empty = t.run({ PULUMI_CONFIG_PASSPHRASE: "" });
            assert.strictEqual(empty.status, 1);
            assert.match(empty.stderr, /PULUMI_CONFIG_PASSPHRASE is set but empty/);
            assert.strictEqual(t.status(), "");
        } finally {
            fs.rmSync(t.tmp, { recursive: true, force: true });
        }
    });

    it("names a Docker engine that is installed but not running, and a missing tool, then writes the offline plan", () => {
        const t = setup({ dockerDown: true, without: ["kind"] });
        try {
            const r = t.run();
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(r.stderr, /^Not on this machine: kind a running Docker engine \(docker is installed, but its engine does not answer: Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock\. Is the docker daemon running\?\)\.$/m);
            assert.strictEqual(fs.readFileSync(`${t.log}.npx`, "utf8"), "npx tsx tools/plan.ts local\n");
            assert.deepStrictEqual(t.calls(), [], "pulumi is not run");
            assert.strictEqual(t.status(), "");
        } finally {
            fs.rmSync(t.tmp, { recursive: true, force: true });
        }
    });
});
