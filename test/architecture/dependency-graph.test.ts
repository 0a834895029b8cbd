import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { expect, test } from '@jest/globals';
import ts from 'typescript';

/**
 * The dependency graph points one way (README, Architecture): HTTP → domains → the vocabulary and
 * storage below them. Read from the import statements of every file under src/, so a new import
 * that breaks a rule fails here, named with its file and line.
 */

/** What every domain stands on; these import no domain and nothing from src/http/. */
const FOUNDATION = ['fhir', 'store', 'identifiers', 'calendar'];
/** The composition root builds the whole service, so it imports every folder and every route file. */
const COMPOSITION_ROOT = ['src/app.ts', 'src/server.ts', 'src/services.ts'];
/** The one-file helpers directly under src/ (canonical JSON, own-property lookups, configuration…) count as foundation. */
const HELPERS = '(src/*.ts)';

/**
 * Edges that break a rule today, each with why it stays for now. An exception that no longer
 * occurs fails the test, so this list only shrinks.
 */
const EXCEPTIONS: Array<{ from: string; to: string; why: string }> = [];

interface Edge {
  from: string;
  to: string;
  line: number;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sourceFiles('src').sort();
const parsed = new Map(files.map((file) => [file, ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)]));

/** Every module a file depends on: imports, re-exports, `import('…')` types and `declare module` augmentations. */
function importsOf(file: string): Edge[] {
  const source = parsed.get(file)!;
  const edges: Edge[] = [];
  const add = (specifier: ts.Node | undefined) => {
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) return;
    const to = normalize(join(dirname(file), specifier.text.replace(/\.js$/, '.ts')));
    edges.push({ from: file, to, line: source.getLineAndCharacterOfPosition(specifier.getStart()).line + 1 });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    else if (ts.isModuleDeclaration(node)) add(node.name);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0]);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

/** A file that registers routes: `app.get('/…', …)` and the like. */
function isRouteFile(file: string): boolean {
  let found = false;
  const visit = (node: ts.Node) => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      ['get', 'post', 'put', 'patch', 'delete', 'route'].includes(node.expression.name.text) &&
      node.arguments[0] !== undefined &&
      (ts.isStringLiteral(node.arguments[0]) || ts.isNoSubstitutionTemplateLiteral(node.arguments[0])) &&
      node.arguments[0].text.startsWith('/')
    ) {
      found = true;
    }
    if (!found) ts.forEachChild(node, visit);
  };
  visit(parsed.get(file)!);
  return found;
}

/** The top-level folder a file belongs to (`intake`), or the helpers directly under src/. */
const folderOf = (file: string) => {
  const [, folder, rest] = relative('.', file).split('/');
  return rest === undefined ? HELPERS : folder!;
};
const isFoundation = (folder: string) => folder === HELPERS || FOUNDATION.includes(folder);
const isDomain = (folder: string) => !isFoundation(folder) && folder !== 'http';

const isException = (edge: Edge) => EXCEPTIONS.some((exception) => exception.from === edge.from && exception.to === edge.to);
const edges = files.filter((file) => !COMPOSITION_ROOT.includes(file)).flatMap(importsOf);
const ruled = edges.filter((edge) => !isException(edge));
const routeFiles = new Set(files.filter(isRouteFile));
const named = (edge: Edge) => `${edge.from}:${edge.line} imports ${edge.to}`;

test('the parser sees the imports: every relative import resolves to a file under src/', () => {
  expect(edges.length).toBeGreaterThan(300);
  expect(edges.filter((edge) => !parsed.has(edge.to)).map(named)).toEqual([]);
  expect(routeFiles).toContain('src/queue/routes.ts');
});

test('fhir, store, identifiers, calendar and the helpers under src/ import no domain and nothing from src/http/', () => {
  const upwards = ruled.filter((edge) => isFoundation(folderOf(edge.from)) && !isFoundation(folderOf(edge.to)));
  expect(upwards.map(named)).toEqual([]);
});

test('no domain imports src/http/: HTTP depends on the domains, not the other way round', () => {
  const intoHttp = ruled.filter((edge) => isDomain(folderOf(edge.from)) && folderOf(edge.to) === 'http');
  expect(intoHttp.map(named)).toEqual([]);
});

test('no module imports a route file of another folder; only the composition root registers them', () => {
  const intoRoutes = ruled.filter((edge) => routeFiles.has(edge.to) && folderOf(edge.to) !== folderOf(edge.from));
  expect(intoRoutes.map(named)).toEqual([]);
});

test('the top-level folders import each other without cycles', () => {
  const folderEdges = new Map<string, Set<string>>();
  for (const edge of ruled) {
    const [from, to] = [folderOf(edge.from), folderOf(edge.to)];
    if (from !== to) folderEdges.set(from, (folderEdges.get(from) ?? new Set()).add(to));
  }
  const reaches = (from: string, target: string, seen = new Set<string>()): boolean =>
    [...(folderEdges.get(from) ?? [])].some((next) => next === target || (!seen.has(next) && (seen.add(next), reaches(next, target, seen))));
  // An edge is on a cycle when its target leads back to its source.
  const onCycles = ruled.filter((edge) => folderOf(edge.from) !== folderOf(edge.to) && reaches(folderOf(edge.to), folderOf(edge.from)));
  expect(onCycles.map(named)).toEqual([]);
});

test('every listed exception still occurs (remove the ones that have been fixed)', () => {
  const stale = EXCEPTIONS.filter((exception) => !edges.some((edge) => edge.from === exception.from && edge.to === exception.to));
  expect(stale.map((exception) => `${exception.from} → ${exception.to}: ${exception.why}`)).toEqual([]);
});
