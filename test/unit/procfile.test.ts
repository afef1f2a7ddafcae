import { formatProcfile, parseProcfile, parseProcfileBytes, ProcfileError, POSTDEPLOY } from '../../src/procfile/parse.js';

/** Runs `fn`, expects it to throw a ProcfileError, and returns that error. */
function procfileError(fn: () => unknown): ProcfileError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProcfileError);
    return error as ProcfileError;
  }
  throw new Error('expected a ProcfileError, but nothing was thrown');
}

describe('parseProcfile: valid files', () => {
  const cases: {
    name: string;
    text: string;
    processes: [string, string][];
    postdeploy: string | undefined;
  }[] = [
    {
      name: 'web, worker and postdeploy',
      text: 'web: node server.js\nworker: node worker.js\npostdeploy: node migrate.js\n',
      processes: [
        ['web', 'node server.js'],
        ['worker', 'node worker.js'],
      ],
      postdeploy: 'node migrate.js',
    },
    {
      name: 'a single web process without trailing newline',
      text: 'web: npm start',
      processes: [['web', 'npm start']],
      postdeploy: undefined,
    },
    {
      name: 'comments and blank lines are ignored',
      text: '# my app\n\nweb: node a.js\n   \n  # indented comment\n\t\nworker: node b.js\n\n',
      processes: [
        ['web', 'node a.js'],
        ['worker', 'node b.js'],
      ],
      postdeploy: undefined,
    },
    {
      name: 'CRLF line endings',
      text: 'web: node server.js\r\nworker: node worker.js\r\npostdeploy: ./migrate\r\n',
      processes: [
        ['web', 'node server.js'],
        ['worker', 'node worker.js'],
      ],
      postdeploy: './migrate',
    },
    {
      name: 'a UTF-8 BOM at the start',
      text: '\uFEFFweb: node server.js\n',
      processes: [['web', 'node server.js']],
      postdeploy: undefined,
    },
    {
      name: 'colons in the command are kept (split on the first colon)',
      text: 'web: node -e "a:b"\nworker: env URL=http://x:1/ node w.js\n',
      processes: [
        ['web', 'node -e "a:b"'],
        ['worker', 'env URL=http://x:1/ node w.js'],
      ],
      postdeploy: undefined,
    },
    {
      name: 'leading and trailing whitespace around type and command',
      text: '   web   :    node server.js   \n\tworker:\tnode w.js\t\n',
      processes: [
        ['web', 'node server.js'],
        ['worker', 'node w.js'],
      ],
      postdeploy: undefined,
    },
    {
      name: 'no space after the colon',
      text: 'web:node server.js\n',
      processes: [['web', 'node server.js']],
      postdeploy: undefined,
    },
    {
      name: 'type names with digits, "-" and "_", and a 30-character name',
      text: `w1: a\nmy-worker_2: b\n${'a'.repeat(30)}: c\n`,
      processes: [
        ['w1', 'a'],
        ['my-worker_2', 'b'],
        ['a'.repeat(30), 'c'],
      ],
      postdeploy: undefined,
    },
    {
      name: 'postdeploy declared first',
      text: 'postdeploy: ./release\nweb: ./serve\n',
      processes: [['web', './serve']],
      postdeploy: './release',
    },
  ];

  test.each(cases)('$name', ({ text, processes, postdeploy }) => {
    const procfile = parseProcfile(text);
    expect([...procfile.processes.entries()]).toEqual(processes);
    expect(procfile.postdeploy).toBe(postdeploy);
  });

  test('processes keep the order of the file, not alphabetical order', () => {
    const procfile = parseProcfile('zeta: z\nalpha: a\nmiddle: m\nweb: w\n');
    expect([...procfile.processes.keys()]).toEqual(['zeta', 'alpha', 'middle', 'web']);
  });

  test('postdeploy is never one of the processes', () => {
    const procfile = parseProcfile('web: node s.js\npostdeploy: node m.js\nworker: node w.js\n');
    expect(procfile.processes.has(POSTDEPLOY)).toBe(false);
    expect(procfile.processes.size).toBe(2);
    expect(procfile.postdeploy).toBe('node m.js');
  });

  test("release: (Heroku's and Dokku's name) is the same hook as postdeploy:, never a process", () => {
    const procfile = parseProcfile('release: bundle exec rake db:migrate\nweb: bundle exec puma\n');
    expect([...procfile.processes.keys()]).toEqual(['web']);
    expect(procfile.postdeploy).toBe('bundle exec rake db:migrate');
    expect(formatProcfile(procfile)).toBe('web: bundle exec puma\npostdeploy: bundle exec rake db:migrate\n');
  });

  test('a "#" after the command is part of the command', () => {
    expect(parseProcfile('web: echo hi # not a comment\n').processes.get('web')).toBe('echo hi # not a comment');
  });
});

describe('parseProcfile: errors', () => {
  const cases: { name: string; text: string; line: number | undefined; message: RegExp }[] = [
    {
      name: 'both release and postdeploy',
      text: 'web: w\npostdeploy: m1\nrelease: m2\n',
      line: 3,
      message:
        /^Procfile line 3: "release:" and "postdeploy:" \(line 2\) are the same hook here, run after the new containers boot and before they get traffic; keep one$/,
    },
    {
      name: 'only release',
      text: 'release: m\n',
      line: undefined,
      message: /^Procfile: only "release:" is defined; add a process to run, such as "web: node server\.js"$/,
    },
    {
      name: 'missing colon',
      text: 'web: node s.js\nworker node w.js\n',
      line: 2,
      message: /^Procfile line 2: expected "type: command" but found no colon in "worker node w\.js"/,
    },
    {
      name: 'missing colon after comments and blank lines counts every line',
      text: '# comment\n\n\nnode server.js\n',
      line: 4,
      message: /^Procfile line 4: .*no colon in "node server\.js"; write it as e\.g\. "web: node server\.js"$/,
    },
    {
      name: 'empty command',
      text: 'web:\n',
      line: 1,
      message: /^Procfile line 1: "web:" has no command; write the command to run after the colon$/,
    },
    {
      name: 'whitespace-only command',
      text: 'web: node s.js\nworker:    \t\n',
      line: 2,
      message: /^Procfile line 2: "worker:" has no command/,
    },
    {
      name: 'duplicate type names the earlier line',
      text: 'web: a\n# c\nworker: b\nweb: c\n',
      line: 4,
      message: /^Procfile line 4: process type "web" is already defined on line 1; keep one definition$/,
    },
    {
      name: 'duplicate postdeploy',
      text: 'web: a\npostdeploy: b\npostdeploy: c\n',
      line: 3,
      message: /process type "postdeploy" is already defined on line 2/,
    },
    {
      name: 'type starting with a digit',
      text: '1web: node s.js\n',
      line: 1,
      message: /^Procfile line 1: "1web" is not a valid process type; use a letter followed by up to 29 letters/,
    },
    {
      name: 'type with a space inside',
      text: 'web: a\nwe b: node s.js\n',
      line: 2,
      message: /^Procfile line 2: "we b" is not a valid process type/,
    },
    {
      name: 'type with punctuation',
      text: 'web!: node s.js\n',
      line: 1,
      message: /^Procfile line 1: "web!" is not a valid process type/,
    },
    {
      name: 'type of 31 characters',
      text: `${'a'.repeat(31)}: node s.js\n`,
      line: 1,
      message: new RegExp(`^Procfile line 1: "${'a'.repeat(31)}" is not a valid process type`),
    },
    {
      name: 'empty type',
      text: ': node s.js\n',
      line: 1,
      message: /^Procfile line 1: "" is not a valid process type/,
    },
    {
      name: 'only postdeploy defined',
      text: 'postdeploy: node migrate.js\n',
      line: undefined,
      message: /^Procfile: only "postdeploy:" is defined; add a process to run, such as "web: node server\.js"$/,
    },
    {
      name: 'empty file',
      text: '',
      line: undefined,
      message: /^Procfile: no process type is defined; add a line such as "web: node server\.js"$/,
    },
    {
      name: 'only comments and blank lines',
      text: '# nothing here\n\n   \n',
      line: undefined,
      message: /^Procfile: no process type is defined/,
    },
    {
      name: 'line numbers count CRLF lines correctly',
      text: 'web: a\r\n\r\nbroken\r\n',
      line: 3,
      message: /^Procfile line 3: .*no colon in "broken"/,
    },
  ];

  test.each(cases)('$name', ({ text, line, message }) => {
    const error = procfileError(() => parseProcfile(text));
    expect(error.name).toBe('ProcfileError');
    expect(error.line).toBe(line);
    expect(error.message).toMatch(message);
  });

  test('a long line without a colon is shortened in the message', () => {
    const long = 'x'.repeat(100);
    const error = procfileError(() => parseProcfile(`${long}\n`));
    expect(error.message).toContain(`"${'x'.repeat(57)}..."`);
    expect(error.message).not.toContain('x'.repeat(58));
  });
});

describe('ProcfileError', () => {
  test('message with and without a line', () => {
    expect(new ProcfileError('bad', 7).message).toBe('Procfile line 7: bad');
    expect(new ProcfileError('bad', 7).line).toBe(7);
    expect(new ProcfileError('bad').message).toBe('Procfile: bad');
    expect(new ProcfileError('bad').line).toBeUndefined();
    expect(new ProcfileError('bad')).toBeInstanceOf(Error);
  });
});

describe('parseProcfileBytes', () => {
  const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

  test('decodes UTF-8 and parses', () => {
    const procfile = parseProcfileBytes(utf8('web: echo "héllo ✓"\nworker: w\n'));
    expect([...procfile.processes.entries()]).toEqual([
      ['web', 'echo "héllo ✓"'],
      ['worker', 'w'],
    ]);
  });

  test('strips a UTF-8 BOM', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('web: node s.js\n')]);
    const procfile = parseProcfileBytes(bytes);
    expect([...procfile.processes.keys()]).toEqual(['web']);
    expect(procfile.processes.get('web')).toBe('node s.js');
  });

  test.each([
    ['a Latin-1 byte', new Uint8Array([...utf8('web: echo caf'), 0xe9, 0x0a])],
    ['a truncated multi-byte sequence', new Uint8Array([...utf8('web: echo '), 0xe2, 0x82])],
    ['a lone continuation byte', new Uint8Array([0x80, ...utf8('web: a\n')])],
  ])('rejects non-UTF-8 bytes (%s)', (_name, bytes) => {
    const error = procfileError(() => parseProcfileBytes(bytes));
    expect(error.line).toBeUndefined();
    expect(error.message).toBe('Procfile: the file is not valid UTF-8; save it as UTF-8 text and push again');
    expect(error.message).toContain('UTF-8');
  });

  test('passes parse errors through', () => {
    const error = procfileError(() => parseProcfileBytes(utf8('web: a\nweb: b\n')));
    expect(error.line).toBe(2);
    expect(error.message).toContain('already defined on line 1');
  });
});

describe('limits', () => {
  test('a command over 32 KB is refused, naming its line and the fix', () => {
    const text = `web: node server.js\nworker: echo ${'x'.repeat(40_000)}\n`;
    expect(() => parseProcfile(text)).toThrow(
      'Procfile line 2: the "worker" command is 40005 characters long; keep it under 32768 (move it into a script and run that)',
    );
  });

  test('51 process types are refused; 50 are accepted', () => {
    const types = (n: number): string => Array.from({ length: n }, (_, i) => `p${i}: sleep 1`).join('\n');
    expect(parseProcfile(types(50)).processes.size).toBe(50);
    expect(() => parseProcfile(types(51))).toThrow('Procfile line 51: more than 50 process types are defined; Slipway runs at most 50');
  });

  test('10 000 comment lines around one process are fine', () => {
    const text = `${'# note\n'.repeat(5_000)}web: node server.js\n${'# note\n'.repeat(5_000)}`;
    expect([...parseProcfile(text).processes.keys()]).toEqual(['web']);
  });
});

describe('formatProcfile: the canonical form kept with a deployment', () => {
  test.each([
    ['web: node server.js\n'],
    ['\uFEFF# comment\r\nweb:   node server.js --port $PORT  \r\n\r\nworker:sleep 10\npostdeploy: ./migrate && echo "a: b"\n'],
    ['postdeploy: echo first\nclock: ./clock\nweb: ./web\n'],
  ])('parses back to the same Procfile: %j', (text) => {
    const parsed = parseProcfile(text);
    const again = parseProcfile(formatProcfile(parsed));
    expect([...again.processes]).toEqual([...parsed.processes]);
    expect(again.postdeploy).toBe(parsed.postdeploy);
  });

  test('types in file order, postdeploy last, one line each', () => {
    expect(formatProcfile(parseProcfile('postdeploy: m\nweb: w\nworker: k\n'))).toBe('web: w\nworker: k\npostdeploy: m\n');
  });
});
