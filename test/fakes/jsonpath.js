'use strict';
// The subset of kubectl's JSONPath templates (`-o jsonpath=...`) the step scripts use:
// literal text, {"\n"}-style string literals, {.a.b}, {.a[*]}, {.a[0]}, {.a['k.x']},
// {.a.b\.c} (escaped dots in keys), filters {.a[?(@.type=="X")]} (== and !=),
// {range <path>}...{end}. Several results of one expression print space-separated, maps and
// lists print as JSON, missing keys print nothing (kubectl get sets allowMissingKeys).

function parseTemplate(tpl) {
  const root = [];
  const stack = [root];
  let i = 0;
  while (i < tpl.length) {
    const top = stack[stack.length - 1];
    if (tpl[i] === '{') {
      let j = i + 1;
      let quote = null;
      let depth = 0;
      for (; j < tpl.length; j++) {
        const ch = tpl[j];
        if (quote) {
          if (ch === '\\') { j++; continue; }
          if (ch === quote) quote = null;
          continue;
        }
        if (ch === '"' || ch === "'") { quote = ch; continue; }
        if (ch === '[') depth++;
        if (ch === ']') depth--;
        if (ch === '}' && depth <= 0) break;
      }
      if (j >= tpl.length) throw new Error(`unclosed action in template ${JSON.stringify(tpl)}`);
      const inner = tpl.slice(i + 1, j).trim();
      i = j + 1;
      if (inner.startsWith('range ')) {
        const node = { t: 'range', path: inner.slice(6).trim(), body: [] };
        top.push(node);
        stack.push(node.body);
      } else if (inner === 'end') {
        if (stack.length === 1) throw new Error('not in range, nothing to end');
        stack.pop();
      } else if (/^"(?:[^"\\]|\\.)*"$/s.test(inner)) {
        top.push({ t: 'text', v: JSON.parse(inner) });
      } else if (/^'.*'$/s.test(inner)) {
        top.push({ t: 'text', v: inner.slice(1, -1) });
      } else {
        top.push({ t: 'expr', path: inner });
      }
    } else {
      let j = tpl.indexOf('{', i);
      if (j < 0) j = tpl.length;
      top.push({ t: 'text', v: tpl.slice(i, j) });
      i = j;
    }
  }
  if (stack.length !== 1) throw new Error('unclosed range');
  return root;
}

function parseLiteral(s) {
  s = s.trim();
  if ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'"))) return s.slice(1, -1);
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  return s;
}

function makeFilter(expr) {
  const m = /^(@[^=!<>]*?)\s*(==|!=)\s*(.+)$/s.exec(expr.trim());
  if (!m) {
    const p = expr.trim();
    return (el) => evalPath(p, el, el).length > 0;
  }
  const [, left, op, right] = m;
  const want = parseLiteral(right);
  return (el) => {
    const got = evalPath(left, el, el);
    const eq = got.some((g) => g === want || String(g) === String(want));
    return op === '==' ? eq : !eq;
  };
}

function evalPath(pathExpr, ctx, root) {
  let p = pathExpr.trim();
  let cur;
  if (p.startsWith('$')) { cur = [root]; p = p.slice(1); } else if (p.startsWith('@')) { cur = [ctx]; p = p.slice(1); } else { cur = [ctx]; }
  let i = 0;
  const field = (name) => {
    cur = cur.flatMap((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, name) ? [v[name]] : []));
  };
  while (i < p.length) {
    const ch = p[i];
    if (ch === '.') {
      i++;
      let name = '';
      while (i < p.length && p[i] !== '.' && p[i] !== '[') {
        if (p[i] === '\\' && i + 1 < p.length) { name += p[i + 1]; i += 2; continue; }
        name += p[i++];
      }
      if (name === '') continue;
      field(name);
    } else if (ch === '[') {
      let j = i + 1;
      let depth = 1;
      let quote = null;
      for (; j < p.length; j++) {
        const c = p[j];
        if (quote) { if (c === '\\') { j++; continue; } if (c === quote) quote = null; continue; }
        if (c === '"' || c === "'") { quote = c; continue; }
        if (c === '[' || c === '(') depth++;
        if (c === ']' || c === ')') depth--;
        if (depth === 0) break;
      }
      const sel = p.slice(i + 1, j).trim();
      i = j + 1;
      if (sel === '*') {
        cur = cur.flatMap((v) => (Array.isArray(v) ? v : v !== null && typeof v === 'object' ? Object.values(v) : []));
      } else if (/^-?\d+$/.test(sel)) {
        const n = Number(sel);
        cur = cur.flatMap((v) => (Array.isArray(v) ? (n < 0 ? (v.length + n >= 0 ? [v[v.length + n]] : []) : n < v.length ? [v[n]] : []) : []));
      } else if (sel.startsWith('?(') && sel.endsWith(')')) {
        const f = makeFilter(sel.slice(2, -1));
        cur = cur.flatMap((v) => (Array.isArray(v) ? v.filter((e) => f(e)) : []));
      } else if (/^'.*'$|^".*"$/.test(sel)) {
        field(sel.slice(1, -1));
      } else {
        throw new Error(`unsupported JSONPath selector [${sel}]`);
      }
    } else if (/\s/.test(ch)) {
      i++;
    } else {
      // a bare field name at the start, e.g. {metadata.name}
      let name = '';
      while (i < p.length && p[i] !== '.' && p[i] !== '[') name += p[i++];
      field(name);
    }
  }
  return cur;
}

function format(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function render(nodes, ctx, root) {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.v;
    else if (n.t === 'expr') out += evalPath(n.path, ctx, root).map(format).join(' ');
    else if (n.t === 'range') {
      for (const item of evalPath(n.path, ctx, root)) out += render(n.body, item, root);
    }
  }
  return out;
}

function jsonpath(template, data) {
  return render(parseTemplate(template), data, data);
}

module.exports = { jsonpath, evalPath, parseTemplate };
