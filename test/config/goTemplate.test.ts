// The Go template syntax check of Helm values templates, case by case against what text/template reports.
import * as assert from "assert";
import { goTemplateProblem } from "../../stacks/goTemplate";
import { ciliumValuesTemplate } from "../../render/modules";

describe("Go template syntax check (valuesTemplate)", () => {
    it("accepts templates text/template parses, including every default module's", () => {
        for (const ok of [
            "plain: yaml",
            "a: {{ .Cluster.metadata.name }}",
            "{{- .a -}}",
            "{{/* a comment */}}x",
            "{{- /* trimmed comment */ -}}",
            '{{ "}}" }}',
            "{{ `raw\n}}` }}",
            "{{ printf \"%s-%d\" .a (len .b) }}",
            "{{ if .a }}x{{ else if .b }}y{{ else }}z{{ end }}",
            "{{ range $i, $v := .a }}{{ if $v }}{{ break }}{{ end }}{{ continue }}{{ end }}",
            "{{ with .a }}{{ . }}{{ else with .b }}{{ . }}{{ end }}",
            '{{ define "x" }}a{{ end }}{{ template "x" . }}',
            "{{ '}' }}",
            ciliumValuesTemplate(),
        ]) {
            assert.strictEqual(goTemplateProblem(ok), undefined, ok);
        }
    });

    it("reports what text/template refuses, with the line", () => {
        const cases: Array<[string, string]> = [
            ["a: {{ .x", "line 1: unclosed action"],
            ["a\nb: {{ .x }\n", "line 2: unclosed action"],
            ["{{ if .a }}x", "line 1: unexpected EOF ({{if}} has no {{end}})"],
            ["x\n{{ end }}", "line 2: unexpected {{end}}"],
            ["{{ else }}", "line 1: unexpected {{else}}"],
            ["{{ if .a }}{{ else }}{{ else }}{{ end }}", "line 1: expected end; found {{else}}"],
            ["{{/* open", "line 1: unclosed comment"],
            ["{{/* c */ }}", "line 1: comment ends before closing delimiter"],
            ['{{ "abc }}', "line 1: unterminated quoted string"],
            ["{{ `abc }}", "line 1: unterminated raw quoted string"],
            ["{{ printf (len .a }}", "line 1: unclosed left paren"],
            ["{{ .a) }}", "line 1: unexpected right paren"],
            ["{{ break }}", "line 1: {{break}} outside {{range}}"],
            ["{{ range .a }}{{ define \"x\" }}{{ end }}{{ end }}", "line 1: unexpected <define> in command"],
            ["{{}}", "line 1: missing value for command"],
            ["{{ if }}{{ end }}", "line 1: missing value for if"],
            ["{{ if .a }}{{ end .b }}", 'line 1: unexpected ".b" in end'],
        ];
        for (const [template, problem] of cases) assert.strictEqual(goTemplateProblem(template), problem, template);
    });
});
