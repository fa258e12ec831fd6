// Preloaded into every run of the program (Pulumi.yaml `nodeargs`, after tsx): stack traces, and the source
// positions Pulumi records for resources, point into the .ts files. source-map-support reads the inline maps
// tsx writes (hookRequire); Node's own source maps alone do not reach Pulumi's positions (measured).
// Frames inside node_modules keep their .js positions: the packages' maps point at sources they do not ship
// (@pulumi/pulumi's map output.js to node_modules/@pulumi/output.ts), and Node 20's util.inspect, which
// Pulumi's runner applies with colors to every uncaught error, loops on such a frame until the string
// overflows (`RangeError: Invalid string length`, after a minute or two of garbage collection).
import * as path from "path";
import { install } from "source-map-support";

const packageFrame = `${path.sep}node_modules${path.sep}`;
/** A map that maps nothing: the frame keeps its generated position. */
const noMap = JSON.stringify({ version: 3, sources: [], names: [], mappings: "" });

install({
    hookRequire: true,
    retrieveSourceMap: (source) => (source.includes(packageFrame) ? { url: source, map: noMap } : null),
});
