// Preloaded into every run of the program (Pulumi.yaml `nodeargs`, after tsx). @pulumi/pulumi prepares, at
// start-up, what only its closure serialization uses: its index loads TypeScript's compiler (to parse a
// function it serializes) and npm's Arborist with pacote and sigstore (to find the packages such a function
// needs), about 470 modules; its runner opens a V8 inspector session with the debugger enabled (to map
// script ids to files), which then reports every script node compiles. Together about 2 s of CPU and
// 60 MiB on every preview and up (README "Benchmark"). This program serializes no function (no dynamic
// provider, no function-valued input), so all of it now happens on first use instead: the SDK gets a
// stand-in whose first property read loads the real module. Everything else loads as before.
import { Module } from "module";
import * as path from "path";

interface LazyRequire {
    /** The requiring file, inside @pulumi/pulumi. */
    from: string;
    request: string;
    /** Properties the stand-in answers itself, without loading the module. */
    standIns?: Record<string, unknown>;
}

/** The SDK's start-up requires of those modules. */
export const LAZY_SDK_REQUIRES: ReadonlyArray<LazyRequire> = [
    { from: "runtime/closure/parseFunction.js", request: "../../typescript-shim" },
    { from: "runtime/closure/codePaths.js", request: "@npmcli/arborist" },
    { from: "runtime/closure/codePaths.js", request: "normalize-package-data" },
    // The runner waits for the session before it runs the program. Closure serialization asks for the
    // session itself when it needs one (runtime/closure/v8.js); opened that late, it knows the files of the
    // scripts parsed after it only, which serialization uses for nothing but the file names in its errors.
    { from: "cmd/run/index.js", request: "../../runtime/closure/v8Hooks", standIns: { isInitializedAsync: () => Promise.resolve() } },
];

type Load = (request: string, parent: NodeJS.Module | undefined, isMain: boolean) => unknown;
// Module._load is the loader's one entry for every require (what require-in-the-middle hooks too).
const moduleInternals = Module as unknown as { _load: Load };

const sdkFile = (file: string) => `${path.sep}${path.join("node_modules", "@pulumi", "pulumi", file)}`;
const lazyRequires = LAZY_SDK_REQUIRES.map((r) => ({ ...r, suffix: sdkFile(r.from) }));

/**
 * A stand-in for a module: reading any other property than its `standIns` loads the module and reads it
 * there. It answers `__esModule` as an ES module namespace would (so that TypeScript's import helpers keep
 * it as it is, unloaded) and serves `default` as those helpers would have made it.
 */
function lazyModule(load: () => unknown, standIns: Record<string, unknown> = {}): object {
    let loaded: Record<string | symbol, unknown> | undefined;
    const real = () => (loaded ??= load() as Record<string | symbol, unknown>);
    return new Proxy(
        {},
        {
            get: (_, key) => {
                if (key === "__esModule") return true;
                if (typeof key === "string" && Object.hasOwn(standIns, key)) return standIns[key];
                return key === "default" && !real().__esModule ? real() : real()[key];
            },
            has: (_, key) => key in real(),
        },
    );
}

const load = moduleInternals._load;
moduleInternals._load = function (request, parent, isMain) {
    const filename = parent?.filename;
    const lazy = filename ? lazyRequires.find((r) => r.request === request && filename.endsWith(r.suffix)) : undefined;
    if (lazy) return lazyModule(() => load.call(this, request, parent, isMain), lazy.standIns);
    return load.call(this, request, parent, isMain);
};
