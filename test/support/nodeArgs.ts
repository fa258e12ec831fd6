// How the Pulumi runtime starts node for this program: Pulumi.yaml's `nodeargs`, for tests that run node
// exactly so, in a process of its own.
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { repoRoot } from "../../stacks/stackFiles";

export function projectNodeArgs(): string[] {
    const project = yaml.load(fs.readFileSync(path.join(repoRoot, "Pulumi.yaml"), "utf8")) as { runtime: { options: { nodeargs: string } } };
    return project.runtime.options.nodeargs.split(/\s+/).filter(Boolean);
}
