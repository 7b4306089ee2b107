// The lint stage of scripts/test.sh (issue 15 item 11). Fails on:
// - an export nobody imports: a name exported from a file under src/, test/ or bench/ that no other file
//   imports (src/, test/ and bench/ count as users, and so do bin/*.js and scripts/*.mjs through dist/).
//   An export used only in its own file should not be exported; one used by nothing should not exist.
// - `as unknown as` outside src/generated/: a cast that silences the type checker instead of a type that
//   says what the value is.
// src/generated/ (proto-loader-gen-types output) is exempt from both.
// Uses the TypeScript compiler's own parser (typescript/unstable/sync: the program of tsconfig.json,
// parsed by the compiler in devDependencies), so the files seen are exactly those tsc builds.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { API } from 'typescript/unstable/sync';
import { SyntaxKind } from 'typescript/unstable/ast';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const rel = (f) => path.relative(root, f);
const exempt = (f) => rel(f).startsWith('src/generated/');

// Exports used by a path the lint cannot see: bin/criusd.js imports the daemon's entry by a computed path
// (the bundle or dist/src, whichever is newer).
const ENTRY_EXPORTS = { 'src/daemon/main.ts': ['main'] };

const api = new API({ cwd: root });
let problems;
try {
  const snapshot = api.updateSnapshot({ openProjects: [path.join(root, 'tsconfig.json')] });
  const program = snapshot.getProjects()[0].program;
  const files = program.getSourceFileNames().filter((f) => !f.includes('/node_modules/') && f.startsWith(root + '/'));
  problems = lint(files.map((f) => program.getSourceFile(f)));
} finally {
  api.close();
}
for (const p of problems) console.error(p);
if (problems.length > 0) {
  console.error(`lint: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('lint: no unused exports, no `as unknown as` outside src/generated');

function lint(sourceFiles) {
  const exported = new Map(); // file -> Map(name -> line)
  const used = new Map(); // file -> Set(name), '*' = every name
  const use = (file, name) => {
    if (!file) return;
    if (!used.has(file)) used.set(file, new Set());
    used.get(file).add(name);
  };
  const casts = [];
  for (const sf of sourceFiles) {
    const file = sf.fileName;
    const line = (node) => sf.getLineAndCharacterOfPosition(node.pos + leadingSpace(sf.text, node.pos)).line + 1;
    const names = new Map();
    const declare = (name, node) => names.set(name, { line: line(node) });
    for (const st of sf.statements) collectExports(st, file, declare, use);
    visit(sf, (node) => {
      collectImport(node, file, use);
      if (!exempt(file) && isUnknownCast(node)) casts.push({ file, line: line(node) });
    });
    if (!exempt(file)) exported.set(file, names);
  }
  for (const [file, names] of externalUsers()) for (const n of names) use(file, n);
  for (const [file, names] of Object.entries(ENTRY_EXPORTS)) for (const n of names) use(path.join(root, file), n);

  const problems = [];
  for (const [file, names] of exported) {
    const u = used.get(file) ?? new Set();
    if (u.has('*')) continue;
    for (const [name, { line }] of names) {
      if (u.has(name)) continue;
      problems.push(`${rel(file)}:${line}: export ${name} is imported nowhere (src/, test/, bench/, bin/, scripts/); un-export or remove it`);
    }
  }
  for (const c of casts) {
    problems.push(`${rel(c.file)}:${c.line}: \`as unknown as\` outside src/generated; give the value a type that fits instead`);
  }
  return problems.sort();
}

function leadingSpace(text, pos) {
  // node.pos includes leading trivia (comments, blank lines): report the line of the code itself.
  let i = pos;
  for (;;) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (text.startsWith('//', i)) { i = text.indexOf('\n', i); if (i < 0) return text.length - pos; continue; }
    if (text.startsWith('/*', i)) { i = text.indexOf('*/', i) + 2; if (i < 2) return text.length - pos; continue; }
    return i - pos;
  }
}

function visit(node, fn) {
  fn(node);
  node.forEachChild((child) => { visit(child, fn); return undefined; });
}

function hasModifier(node, kind) {
  return (node.modifiers ?? []).some((m) => m.kind === kind);
}

function resolve(fromFile, spec) {
  if (!spec.startsWith('./') && !spec.startsWith('../')) return undefined;
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const c of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (c.endsWith('.ts') && existsSync(c)) return c;
  }
  return undefined;
}

function bindingNames(name, out = []) {
  if (name.kind === SyntaxKind.Identifier) out.push(name.text);
  else for (const el of name.elements ?? []) if (el.name) bindingNames(el.name, out);
  return out;
}

function collectExports(st, file, declare, use) {
  switch (st.kind) {
    case SyntaxKind.FunctionDeclaration:
    case SyntaxKind.ClassDeclaration:
    case SyntaxKind.InterfaceDeclaration:
    case SyntaxKind.TypeAliasDeclaration:
    case SyntaxKind.EnumDeclaration:
    case SyntaxKind.ModuleDeclaration:
      if (!hasModifier(st, SyntaxKind.ExportKeyword)) return;
      declare(hasModifier(st, SyntaxKind.DefaultKeyword) ? 'default' : st.name.text, st);
      return;
    case SyntaxKind.VariableStatement:
      if (!hasModifier(st, SyntaxKind.ExportKeyword)) return;
      for (const d of st.declarationList.declarations) for (const n of bindingNames(d.name)) declare(n, st);
      return;
    case SyntaxKind.ExportAssignment:
      declare('default', st);
      return;
    case SyntaxKind.ExportDeclaration: {
      const target = st.moduleSpecifier ? resolve(file, st.moduleSpecifier.text) : undefined;
      const clause = st.exportClause;
      if (!clause || clause.kind === SyntaxKind.NamespaceExport) {
        // export * from / export * as ns from: every name of the target is passed on.
        use(target, '*');
        if (clause) declare(clause.name.text, st);
        return;
      }
      for (const el of clause.elements) {
        declare(el.name.text, st);
        if (target) use(target, (el.propertyName ?? el.name).text);
      }
      return;
    }
    default:
  }
}

function collectImport(node, file, use) {
  if (node.kind === SyntaxKind.ImportDeclaration) {
    const target = resolve(file, node.moduleSpecifier.text);
    const clause = node.importClause;
    if (!target || !clause) return;
    if (clause.name) use(target, 'default');
    const b = clause.namedBindings;
    if (!b) return;
    if (b.kind === SyntaxKind.NamespaceImport) use(target, '*');
    else for (const el of b.elements) use(target, (el.propertyName ?? el.name).text);
    return;
  }
  if (node.kind === SyntaxKind.CallExpression && node.expression.kind === SyntaxKind.ImportKeyword) {
    const arg = node.arguments[0];
    const target = arg && arg.kind === SyntaxKind.StringLiteral ? resolve(file, arg.text) : undefined;
    if (!target) return;
    // const { a, b } = await import('./x.js') names what it uses; any other form may use anything.
    const decl = node.parent?.kind === SyntaxKind.AwaitExpression ? node.parent.parent : node.parent;
    if (decl?.kind === SyntaxKind.VariableDeclaration && decl.name.kind === SyntaxKind.ObjectBindingPattern) {
      for (const el of decl.name.elements) {
        const key = el.propertyName ?? el.name;
        use(target, key.kind === SyntaxKind.Identifier ? key.text : '*');
      }
    } else if (node.parent?.kind === SyntaxKind.AwaitExpression && node.parent.parent?.kind === SyntaxKind.ParenthesizedExpression &&
        node.parent.parent.parent?.kind === SyntaxKind.PropertyAccessExpression) {
      use(target, node.parent.parent.parent.name.text);
    } else {
      use(target, '*');
    }
    return;
  }
  if (node.kind === SyntaxKind.ImportType) {
    const lit = node.argument?.literal;
    const target = lit && lit.kind === SyntaxKind.StringLiteral ? resolve(file, lit.text) : undefined;
    if (!target) return;
    const q = node.qualifier;
    use(target, q && q.kind === SyntaxKind.Identifier ? q.text : '*');
  }
}

function isUnknownCast(node) {
  return node.kind === SyntaxKind.AsExpression && node.expression.kind === SyntaxKind.AsExpression &&
    node.expression.type.kind === SyntaxKind.UnknownKeyword;
}

/** Named imports of the built tree by bin/*.js and scripts/*.mjs ('../dist/src/cli/main.js' -> src/cli/main.ts). */
function externalUsers() {
  const out = new Map();
  for (const dir of ['bin', 'scripts']) {
    const abs = path.join(root, dir);
    if (!existsSync(abs)) continue;
    for (const f of readdirSync(abs)) {
      if (!/\.(m?js)$/.test(f)) continue;
      const text = readFileSync(path.join(abs, f), 'utf8');
      for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"](?:\.\.\/)+dist\/([^'"]+)\.js['"]/g)) {
        const src = path.join(root, `${m[2]}.ts`);
        const names = m[1].split(',').map((s) => s.trim().split(/\s+as\s+/)[0]).filter(Boolean);
        out.set(src, [...(out.get(src) ?? []), ...names]);
      }
    }
  }
  return out;
}
