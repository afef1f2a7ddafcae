import { printList, type Output } from '../../src/cli/output.js';

function output(json: boolean): Output & { text: () => string } {
  let text = '';
  return { json, color: false, write: (t) => void (text += t), text: () => text };
}

const items = [
  { name: 'web', count: 2 },
  { name: 'worker', count: null },
];
const list = (out: Output, of: typeof items): void => printList(out, of, 'Nothing yet: add one.\n', ['NAME', 'COUNT'], (i) => [i.name, i.count]);

describe('printList', () => {
  test('--json: the items as given, whether or not there are any', () => {
    const out = output(true);
    list(out, items);
    expect(JSON.parse(out.text())).toEqual(items);
    const none = output(true);
    list(none, []);
    expect(none.text()).toBe('[]\n');
  });

  test('no items: the hint of what to do, not an empty table', () => {
    const out = output(false);
    list(out, []);
    expect(out.text()).toBe('Nothing yet: add one.\n');
  });

  test('items: a table with a row each, null shown as -', () => {
    const out = output(false);
    list(out, items);
    expect(out.text()).toBe('NAME    COUNT\nweb     2\nworker  -\n');
  });
});
