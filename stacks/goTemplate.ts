// A syntax check of Go text/template source (what CAAPH parses a HelmChartProxy's valuesTemplate with),
// so that a template CAAPH would refuse is rejected at preview, not on every cluster it selects.
// It follows text/template's lexer and parser for what makes a template unparseable: delimiters and trim
// markers, comments, quoted and raw strings, character constants, parentheses, and the block structure
// (if/range/with/define/block ... else ... end, break/continue inside range). It does not know which
// functions exist (CAAPH adds Sprig's), so an unknown function name is left to CAAPH.

const blockKeywords = new Set(["if", "range", "with", "define", "block"]);
const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\r" || c === "\n";

interface OpenBlock {
    keyword: string;
    line: number;
    sawElse: boolean;
}

/** The first problem text/template's parser reports for `source`, as "line N: message", or undefined. */
export function goTemplateProblem(source: string): string | undefined {
    const blocks: OpenBlock[] = [];
    let pos = 0;
    const lineAt = (index: number) => source.slice(0, index).split("\n").length;
    for (;;) {
        const start = source.indexOf("{{", pos);
        if (start < 0) break;
        const line = lineAt(start);
        let p = start + 2;
        if (source[p] === "-" && isSpace(source[p + 1])) p += 2; // "{{- " trims the text before
        while (isSpace(source[p])) p++;
        if (source.startsWith("/*", p)) {
            const close = source.indexOf("*/", p + 2);
            if (close < 0) return `line ${line}: unclosed comment`;
            p = close + 2;
            if (source.startsWith(" -}}", p)) p += 4;
            else if (source.startsWith("}}", p)) p += 2;
            else return `line ${lineAt(close)}: comment ends before closing delimiter`;
            pos = p;
            continue;
        }
        // Scan the action up to its closing delimiter, outside strings and character constants.
        let action = "";
        let depth = 0;
        let end = -1;
        while (p < source.length) {
            const c = source[p];
            if (c === '"' || c === "'") {
                let q = p + 1;
                while (q < source.length && source[q] !== c && source[q] !== "\n") q += source[q] === "\\" ? 2 : 1;
                if (source[q] !== c) return `line ${lineAt(p)}: ${c === '"' ? "unterminated quoted string" : "unterminated character constant"}`;
                action += c === '"' ? '"s"' : "'c'";
                p = q + 1;
            } else if (c === "`") {
                const q = source.indexOf("`", p + 1);
                if (q < 0) return `line ${lineAt(p)}: unterminated raw quoted string`;
                action += '"s"';
                p = q + 1;
            } else if (source.startsWith("}}", p) || (isSpace(c) && source.startsWith("-}}", p + 1))) {
                end = source.startsWith("}}", p) ? p + 2 : p + 4;
                break;
            } else {
                if (c === "(") depth++;
                if (c === ")" && --depth < 0) return `line ${lineAt(p)}: unexpected right paren`;
                action += c;
                p++;
            }
        }
        if (end < 0) return `line ${line}: unclosed action`;
        if (depth > 0) return `line ${line}: unclosed left paren`;
        pos = end;

        const words = action.trim().split(/\s+/).filter((w) => w !== "");
        const [keyword, ...args] = words;
        const top = blocks[blocks.length - 1];
        if (!keyword) return `line ${line}: missing value for command`;
        if (blockKeywords.has(keyword)) {
            if (keyword === "define" && blocks.length > 0) return `line ${line}: unexpected <define> in command`;
            if (args.length === 0) return `line ${line}: missing value for ${keyword}`;
            if ((keyword === "define" || keyword === "block") && !args[0].startsWith('"')) return `line ${line}: unexpected "${args[0]}" in ${keyword} clause`;
            blocks.push({ keyword, line, sawElse: false });
        } else if (keyword === "else") {
            if (!top || !["if", "range", "with"].includes(top.keyword)) return `line ${line}: unexpected {{else}}`;
            if (top.sawElse) return `line ${line}: expected end; found {{else}}`;
            const chained = args[0] === "if" || args[0] === "with";
            if (chained && args.length === 1) return `line ${line}: missing value for ${args[0]}`;
            if (!chained && args.length > 0) return `line ${line}: unexpected "${args[0]}" in else`;
            top.sawElse = !chained;
        } else if (keyword === "end") {
            if (!top) return `line ${line}: unexpected {{end}}`;
            if (args.length > 0) return `line ${line}: unexpected "${args[0]}" in end`;
            blocks.pop();
        } else if (keyword === "break" || keyword === "continue") {
            const innermostRange = blocks.map((b) => b.keyword).lastIndexOf("range");
            const inRange = innermostRange >= 0 && !blocks.slice(innermostRange).some((b) => b.keyword === "define" || b.keyword === "block");
            if (!inRange) return `line ${line}: {{${keyword}}} outside {{range}}`;
        }
    }
    const open = blocks[blocks.length - 1];
    if (open) return `line ${open.line}: unexpected EOF ({{${open.keyword}}} has no {{end}})`;
    return undefined;
}
