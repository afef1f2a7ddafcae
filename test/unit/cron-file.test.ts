import { cronPattern, parseCronFile } from '../../src/cron/file.js';

const file = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

test("Scalingo's cron.json: five schedule fields or a nickname, then the command as written", () => {
  expect(
    parseCronFile(
      file({
        jobs: [{ command: '*/10 * * * * node cleanup.js  --all' }, { command: '@hourly  echo "a  b"', size: 'M' }, { command: '0 3 * * 1-5 ./nightly' }],
      }),
    ),
  ).toEqual([
    { schedule: '*/10 * * * *', command: 'node cleanup.js  --all' },
    { schedule: '@hourly', command: 'echo "a  b"' },
    { schedule: '0 3 * * 1-5', command: './nightly' },
  ]);
  expect(parseCronFile(file({ jobs: [] }))).toEqual([]);
});

test('six fields (seconds first) only when the server allows them', () => {
  expect(parseCronFile(file({ jobs: [{ command: '*/2 * * * * * echo hi' }] }), { seconds: true })).toEqual([{ schedule: '*/2 * * * * *', command: 'echo hi' }]);
  // Without: the sixth field is the command.
  expect(parseCronFile(file({ jobs: [{ command: '*/2 * * * * echo hi' }] }))).toEqual([{ schedule: '*/2 * * * *', command: 'echo hi' }]);
});

test.each([
  ['not JSON', '{jobs: []}', /cron\.json is not valid JSON/],
  ['no jobs list', { job: [] }, /must be an object with a "jobs" list/],
  ['a job without command', { jobs: [{ cmd: 'x' }] }, /cron\.json job 1 has no "command" string/],
  [
    'a minute of 61',
    { jobs: [{ command: '0 * * * * ok' }, { command: '61 * * * * echo x' }] },
    /^cron\.json job 2 \("61 \* \* \* \* echo x"\): the schedule "61 \* \* \* \*" is not valid .*; use five fields/,
  ],
  ['an unknown nickname', { jobs: [{ command: '@reboot ./start' }] }, /cron\.json job 1 \("@reboot \.\/start"\): "@reboot" is not a schedule Slipway knows/],
  ['a schedule without command', { jobs: [{ command: '*/5 * * * *' }] }, /cron\.json job 1 .* has no command after its schedule/],
  ['words for fields', { jobs: [{ command: 'every day at noon today run.sh' }] }, /cron\.json job 1 .*: the schedule "every day at noon today" is not valid/],
])('%s is refused, naming the job', (_name, value, message) => {
  expect(() => parseCronFile(file(value))).toThrow(message);
});

test('croner gets a seconds field of 0 for five-field schedules, and @midnight spelled out', () => {
  expect(cronPattern('*/10 * * * *')).toBe('0 */10 * * * *');
  expect(cronPattern('@Daily')).toBe('@daily');
  expect(cronPattern('@midnight')).toBe('0 0 0 * * *');
  expect(cronPattern('*/2 * * * * *')).toBe('*/2 * * * * *');
});
