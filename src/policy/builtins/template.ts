// strings.render_template: Go's text/template, as OPA runs it on the
// variables decoded with json.Number (so a number prints as written and is
// "true" in an `if` even when 0), then with "<no value>" replaced by
// "<undefined>". This is a subset: text, comments, trim markers, field chains
// on `.` and variables (`.a.b`, `$`, `$v.a`), literals, variable declarations,
// `if`/`else if`/`else`, `range` (with `$i, $v :=`, `else`, `break`,
// `continue`), `with`, and pipelines with the functions of template-pipe.ts.
// `define`/`template`/`block`, `slice`, `js` and `call` fail the builtin with
// "not supported by ztauthz"; in OPA they work (docs/builtins.md).

import type { BuiltinFn } from './index.ts';
import { BuiltinError, compareGoStrings, objectOperand, stringOperand } from './util.ts';
import { TemplateError, callFunction, fail, parsePipeline, unsupported, type Arg, type Pipe } from './template-pipe.ts';
import { GoLiteral, NO_VALUE, fromJson, isObj, sprint, truthy, type Val } from './template-values.ts';

const B = 'strings.render_template';

type Node =
  | { t: 'text'; s: string }
  | { t: 'action'; pipe: Pipe }
  | { t: 'if' | 'with'; pipe: Pipe; list: Node[]; alt: Node[] }
  | { t: 'range'; pipe: Pipe; list: Node[]; alt: Node[] }
  | { t: 'break' | 'continue' };

/** Limits on work: bytes written and range iterations. */
const MAX_OUTPUT = 1 << 20;
const MAX_STEPS = 1_000_000;

// --- lexing: text and {{actions}} with trim markers and comments ---

type Piece = { text: string } | { action: string };

function split(src: string): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) out.push({ text });
      break;
    }
    let start = open + 2;
    if (/^-[ \t\r\n]/.test(src.slice(start, start + 2))) {
      text = text.replace(/[ \t\r\n]+$/, '');
      start += 2;
    }
    if (text) out.push({ text });
    const rest = src.slice(start);
    let end: number;
    if (/^\s*\/\*/.test(rest)) {
      const c = rest.indexOf('*/');
      if (c < 0) fail('unclosed comment');
      end = start + c + 2;
      const after = src.slice(end);
      const m = /^\s*(-?)\}\}/.exec(after.replace(/^ -\}\}/, ' -}}'));
      if (!m) fail('comment ends before closing delimiter');
      if (/^[ \t\r\n]+-\}\}/.test(after)) trimNext = true;
      i = end + (m as RegExpExecArray)[0].length;
      continue;
    }
    end = findClose(src, start);
    if (end < 0) fail('unclosed action');
    let body = src.slice(start, end);
    if (/[ \t\r\n]-$/.test(body)) {
      body = body.slice(0, -2);
      trimNext = true;
    }
    out.push({ action: body.trim() });
    i = end + 2;
  }
  return out;
}

/** The "}}" closing an action, skipping quoted strings. */
function findClose(src: string, from: number): number {
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === '`' || c === "'") {
      const q = c;
      for (i++; i < src.length && src[i] !== q; i++) if (src[i] === '\\' && q !== '`') i++;
      continue;
    }
    if (c === '}' && src[i + 1] === '}') return i;
  }
  return -1;
}

function parse(pieces: Piece[]): Node[] {
  let pos = 0;
  // Reads nodes until {{end}} or {{else…}}; returns them and what stopped it.
  const list = (inRange: boolean): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (pos < pieces.length) {
      const p = pieces[pos++] as Piece;
      if ('text' in p) {
        nodes.push({ t: 'text', s: p.text });
        continue;
      }
      const a = p.action;
      const kw = /^(if|else|end|range|with|break|continue|define|template|block)\b\s*/.exec(a);
      if (!kw) {
        nodes.push({ t: 'action', pipe: parsePipeline(a) });
        continue;
      }
      const rest = a.slice(kw[0].length);
      switch (kw[1]) {
        case 'end':
        case 'else':
          return { nodes, stop: a };
        case 'break':
        case 'continue':
          if (!inRange) fail(`{{${kw[1]}}} outside {{range}}`);
          nodes.push({ t: kw[1] });
          break;
        case 'if':
        case 'with':
        case 'range':
          nodes.push(control(kw[1], rest, inRange));
          break;
        default:
          unsupported(`{{${kw[1]}}}`);
      }
    }
    return { nodes, stop: '' };
  };
  const control = (kind: 'if' | 'with' | 'range', words: string, inRange: boolean): Node => {
    const pipe = parsePipeline(words, kind === 'range');
    const body = list(inRange || kind === 'range');
    let alt: Node[] = [];
    if (body.stop.startsWith('else')) {
      const chained = /^else\s+(if|with)\b\s*/.exec(body.stop);
      if (chained) {
        if (kind === 'range') fail("range can't chain else if/with");
        // {{else if x}} is {{else}}{{if x}}…{{end}}, sharing the outer {{end}}
        alt = [control(chained[1] as 'if' | 'with', body.stop.slice(chained[0].length), inRange)];
        return { t: kind, pipe, list: body.nodes, alt };
      }
      if (body.stop.trim() !== 'else') fail(`unexpected ${body.stop}`);
      const e = list(inRange);
      if (e.stop.trim() !== 'end') fail(e.stop ? `expected end; found ${e.stop}` : 'unexpected EOF');
      alt = e.nodes;
    } else if (body.stop.trim() !== 'end') fail(body.stop ? `unexpected ${body.stop}` : 'unexpected EOF');
    return { t: kind, pipe, list: body.nodes, alt };
  };
  const top = list(false);
  if (top.stop) fail(`unexpected {{${top.stop}}}`);
  return top.nodes;
}

// --- evaluation ---

function typeOf(v: Val): string {
  if (isObj(v)) return 'map[string]interface {}';
  return 'interface {}';
}

class Render {
  out = '';
  steps = 0;
  vars: [string, Val][] = [];
  readonly root: Val;
  constructor(root: Val) {
    this.root = root;
    this.vars.push(['$', root]);
  }
  lookup(name: string): Val {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]![0] === name) return this.vars[i]![1];
    return fail(`undefined variable: ${name}`);
  }
  field(op: Extract<Arg, { kind: 'field' }>, dot: Val): Val {
    let v = op.root === '.' ? dot : this.lookup(op.root);
    let receiverType = op.root === '.' && v === this.root ? 'map[string]interface {}' : typeOf(v);
    for (const f of op.fields) {
      if (v === NO_VALUE) return NO_VALUE;
      if (v === null) fail(`nil pointer evaluating interface {}.${f}`);
      if (!isObj(v)) fail(`can't evaluate field ${f} in type ${receiverType}`);
      const o = v as Record<string, Val>;
      v = Object.hasOwn(o, f) ? o[f] : NO_VALUE;
      receiverType = 'interface {}';
    }
    return v;
  }
  arg(a: Arg, dot: Val): Val {
    if (a.kind === 'literal') return a.value;
    if (a.kind === 'field') return this.field(a, dot);
    if (a.kind === 'pipe') return this.value(a.pipe, dot);
    return fail(`${a.name} is a function, not a value`);
  }
  /** A pipeline's value: each command gets the previous one's value as its last argument. */
  value(p: Pipe, dot: Val): Val {
    let prev: Val;
    let piped = false;
    for (const cmd of p.cmds) {
      const [first, ...rest] = cmd as [Arg, ...Arg[]];
      if (first.kind === 'func') {
        const args = rest.map((a) => this.arg(a, dot));
        if (piped) args.push(prev);
        prev = callFunction(first.name, args);
      } else {
        if (rest.length > 0 || piped)
          fail(
            first.kind === 'field' && first.fields.length > 0
              ? `${first.fields.at(-1)} is not a method but has arguments`
              : "can't give argument to non-function",
          );
        prev = this.arg(first, dot);
      }
      piped = true;
    }
    // text/template unwraps an empty interface: a JSON null becomes "no value"
    return prev === null ? NO_VALUE : prev;
  }
  pipe(p: Pipe, dot: Val): Val {
    const value = this.value(p, dot);
    if (p.decl.length === 1) this.vars.push([p.decl[0] as string, value]);
    return value;
  }
  write(s: string): void {
    this.out += s;
    if (this.out.length > MAX_OUTPUT) fail(`output larger than ${MAX_OUTPUT} bytes`);
  }
  /** Runs nodes; returns "break"/"continue" when one was reached. */
  run(nodes: readonly Node[], dot: Val): 'break' | 'continue' | undefined {
    for (const n of nodes) {
      if (++this.steps > MAX_STEPS) fail(`more than ${MAX_STEPS} steps`);
      switch (n.t) {
        case 'text':
          this.write(n.s);
          break;
        case 'action': {
          const v = this.pipe(n.pipe, dot);
          if (n.pipe.decl.length === 0) this.write(sprint(v));
          break;
        }
        case 'break':
        case 'continue':
          return n.t;
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const v = this.pipe(n.pipe, dot);
          const r = truthy(v) ? this.run(n.list, n.t === 'with' ? v : dot) : this.run(n.alt, dot);
          this.vars.length = mark;
          if (r) return r;
          break;
        }
        case 'range': {
          const r = this.range(n, dot);
          if (r) return r;
        }
      }
    }
    return undefined;
  }
  range(n: Extract<Node, { t: 'range' }>, dot: Val): 'break' | 'continue' | undefined {
    const mark = this.vars.length;
    const v = this.value(n.pipe, dot);
    let items: [Val, Val][];
    if (Array.isArray(v)) items = v.map((x, i) => [new GoLiteral(BigInt(i)), x]);
    else if (isObj(v))
      items = Object.keys(v)
        .sort(compareGoStrings)
        .map((k) => [k, v[k]]);
    else if (v === NO_VALUE || v === null) items = [];
    else return fail(`range can't iterate over ${sprint(v)}`);
    if (items.length === 0) {
      const r = this.run(n.alt, dot);
      this.vars.length = mark;
      return r;
    }
    for (const [k, x] of items) {
      const m = this.vars.length;
      if (n.pipe.decl.length === 1) this.vars.push([n.pipe.decl[0] as string, x]);
      if (n.pipe.decl.length === 2) this.vars.push([n.pipe.decl[0] as string, k], [n.pipe.decl[1] as string, x]);
      const r = this.run(n.list, x);
      this.vars.length = m;
      if (r === 'break') break;
    }
    this.vars.length = mark;
    return undefined;
  }
}

export function renderTemplate(tmpl: string, vars: Record<string, unknown>): string {
  const nodes = parse(split(tmpl));
  const r = new Render(fromJson(vars));
  r.run(nodes, r.root);
  return r.out.replaceAll('<no value>', '<undefined>');
}

export function templateBuiltins(): Record<string, BuiltinFn> {
  return {
    [B]: (t: unknown, v: unknown) => {
      const tmpl = stringOperand(B, t, 1);
      const vars = objectOperand(B, v, 2);
      try {
        return renderTemplate(tmpl, vars);
      } catch (e) {
        if (e instanceof TemplateError) throw new BuiltinError(B, `template: ${e.message}`);
        throw e;
      }
    },
  };
}
