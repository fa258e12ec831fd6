// Critical-path scheduling of a Pulumi resource graph (pure; no Pulumi, no I/O).
//
// The timing model is the Node SDK's, as `pulumi up` runs it:
// - a custom resource starts once every resource it depends on is done (explicit `dependsOn`, data
//   dependencies, its provider) and its parent has registered; it is done `duration` seconds later;
// - a component registers once everything in its `dependsOn` is done, and depending on a component
//   means depending on all of its (transitive) children: it is done when they all are;
// - a child waits for its parent's registration (`await parent.urn` in the SDK's prepareResource), so
//   a component's `dependsOn` holds back every child even though the children do not list it.
// The graph becomes a DAG of events (start/finish per resource, registered/done per component) and
// the longest path through it is the critical path.

export interface StepPart {
    key: string;
    seconds: number;
    /** "program" parts are waits this project adds; the others are upstream work. */
    kind: string;
}

export interface GraphNode {
    urn: string;
    name: string;
    type: string;
    parent?: string;
    dependsOn: string[];
    /** Components take no time and are done when all their children are. */
    component: boolean;
    parts: StepPart[];
}

export interface ScheduledStep {
    urn: string;
    name: string;
    type: string;
    start: number;
    finish: number;
    seconds: number;
    /** How much later this step could finish without delaying the end of the bootstrap. */
    slack: number;
    parts: StepPart[];
}

export interface Schedule {
    /** Time at which the last step finishes, all independent work running in parallel. */
    seconds: number;
    /** Sum of every step's duration: the bootstrap run one step at a time. */
    serialSeconds: number;
    /** Steps (custom resources taking time) on the critical path, in order. */
    path: ScheduledStep[];
    /** Every custom resource with its timing. */
    steps: Map<string, ScheduledStep>;
    /** Dependencies naming URNs that are not in the graph (ignored: they take no time here). */
    unknownDependencies: string[];
}

const sum = (parts: StepPart[]) => parts.reduce((s, p) => s + p.seconds, 0);

/** Schedules the graph; throws on a dependency cycle. */
export function schedule(nodes: GraphNode[]): Schedule {
    const byUrn = new Map(nodes.map((n) => [n.urn, n]));
    if (byUrn.size !== nodes.length) throw new Error("duplicate URN in the graph");
    const children = new Map<string, GraphNode[]>();
    for (const n of nodes) if (n.parent && byUrn.has(n.parent)) children.set(n.parent, [...(children.get(n.parent) ?? []), n]);

    // Events: "<urn>#in" = start (custom) / registered (component); "<urn>#out" = finish / done.
    const inOf = (urn: string) => `${urn}#in`;
    const outOf = (urn: string) => `${urn}#out`;
    const edges = new Map<string, Array<{ to: string; weight: number }>>();
    const events: string[] = [];
    const addEdge = (from: string, to: string, weight: number) => edges.get(from)!.push({ to, weight });
    for (const n of nodes) {
        for (const e of [inOf(n.urn), outOf(n.urn)]) {
            events.push(e);
            edges.set(e, []);
        }
    }
    const unknown = new Set<string>();
    for (const n of nodes) {
        addEdge(inOf(n.urn), outOf(n.urn), n.component ? 0 : sum(n.parts));
        if (n.parent && byUrn.has(n.parent)) {
            const parent = byUrn.get(n.parent)!;
            // The child waits for its parent's registration (a custom parent registers when created).
            addEdge(parent.component ? inOf(parent.urn) : outOf(parent.urn), inOf(n.urn), 0);
            if (parent.component) addEdge(outOf(n.urn), outOf(parent.urn), 0);
        }
        for (const d of new Set(n.dependsOn)) {
            if (d === n.urn) continue;
            if (!byUrn.has(d)) {
                unknown.add(d);
                continue;
            }
            addEdge(outOf(d), inOf(n.urn), 0);
        }
    }

    // Topological order (Kahn), then earliest times with the predecessor that sets them.
    const indegree = new Map(events.map((e) => [e, 0]));
    for (const list of edges.values()) for (const { to } of list) indegree.set(to, indegree.get(to)! + 1);
    const queue = events.filter((e) => indegree.get(e) === 0);
    const order: string[] = [];
    while (queue.length > 0) {
        const e = queue.shift()!;
        order.push(e);
        for (const { to } of edges.get(e)!) {
            indegree.set(to, indegree.get(to)! - 1);
            if (indegree.get(to) === 0) queue.push(to);
        }
    }
    if (order.length !== events.length) {
        const stuck = events.filter((e) => indegree.get(e)! > 0).map((e) => byUrn.get(e.replace(/#(in|out)$/, ""))!.name);
        throw new Error(`dependency cycle among: ${[...new Set(stuck)].join(", ")}`);
    }
    const earliest = new Map(events.map((e) => [e, 0]));
    const pred = new Map<string, string>();
    for (const e of order) {
        for (const { to, weight } of edges.get(e)!) {
            const t = earliest.get(e)! + weight;
            if (t > earliest.get(to)! || (t === earliest.get(to)! && !pred.has(to))) {
                earliest.set(to, t);
                pred.set(to, e);
            }
        }
    }
    const makespan = Math.max(0, ...earliest.values());
    const latest = new Map(events.map((e) => [e, makespan]));
    for (const e of [...order].reverse()) {
        for (const { to, weight } of edges.get(e)!) latest.set(e, Math.min(latest.get(e)!, latest.get(to)! - weight));
    }

    const steps = new Map<string, ScheduledStep>();
    for (const n of nodes) {
        if (n.component) continue;
        const seconds = sum(n.parts);
        steps.set(n.urn, {
            urn: n.urn,
            name: n.name,
            type: n.type,
            start: earliest.get(inOf(n.urn))!,
            finish: earliest.get(outOf(n.urn))!,
            seconds,
            slack: latest.get(outOf(n.urn))! - earliest.get(outOf(n.urn))!,
            parts: n.parts,
        });
    }

    // Walk back from the last event along the predecessors that set each time.
    let end = order[0];
    for (const e of order) if (earliest.get(e)! > earliest.get(end)!) end = e;
    const path: ScheduledStep[] = [];
    for (let e: string | undefined = end; e; e = pred.get(e)) {
        const p = pred.get(e);
        if (p && e.endsWith("#out") && p === inOf(e.slice(0, -4))) {
            const step = steps.get(e.slice(0, -4));
            if (step && step.seconds > 0) path.unshift(step);
        }
    }
    return {
        seconds: makespan,
        serialSeconds: [...steps.values()].reduce((s, st) => s + st.seconds, 0),
        path,
        steps,
        unknownDependencies: [...unknown],
    };
}
