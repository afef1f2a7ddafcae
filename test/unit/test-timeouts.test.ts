import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Tests that start processes (servers, git, the CLI, containers) take as long as the machine
 * lets them: under jest's default 5 s a busy machine makes them flaky. Each must say how long it
 * may take, by a third argument (hooks: a second) or a jest.setTimeout for its whole file.
 */
const SPAWNING = [
  ...readdirSync('test/e2e').map((file) => path.join('test/e2e', file)),
  // Unit tests that run a process.
  'test/unit/hook-relay.test.ts',
].filter((file) => file.endsWith('.test.ts'));

const TESTS = new Set(['test', 'it']);
const HOOKS = new Set(['beforeAll', 'afterAll', 'beforeEach', 'afterEach']);

/** `test(…)`, `test.each(…)(…)`, `beforeAll(…)` calls that give no timeout, as `line: name`. */
function withoutTimeout(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      let name: string | undefined;
      if (ts.isIdentifier(callee)) name = callee.text;
      else if (ts.isCallExpression(callee) && ts.isPropertyAccessExpression(callee.expression) && ts.isIdentifier(callee.expression.expression)) {
        name = callee.expression.expression.text; // test.each(table)(name, fn)
      }
      const needed = name === undefined ? 0 : TESTS.has(name) ? 3 : HOOKS.has(name) ? 2 : 0;
      if (needed > 0 && node.arguments.length < needed) {
        const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
        found.push(`${line}: ${name!} ${node.arguments[0]?.getText().slice(0, 60) ?? ''}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('every test that starts processes says how long it may take', () => {
  test.each(SPAWNING)('%s', (file) => {
    if (/^jest\.setTimeout\(\d[\d_]*\);$/m.test(readFileSync(file, 'utf8'))) return;
    expect(withoutTimeout(file)).toEqual([]);
  });

  test('the check finds a test without one', () => {
    const file = path.join('test/unit', 'test-timeouts.test.ts');
    // This file's own tests take no timeout: they start nothing.
    expect(withoutTimeout(file).length).toBeGreaterThan(0);
  });
});
