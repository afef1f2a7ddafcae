import { mountPathProblem } from '../../src/api/routes/storage.js';

describe('mountPathProblem', () => {
  test.each(['/data', '/var/lib/app', '/srv/uploads.v2', '/app/storage', '/home/app_data', '/tmp-files'])('accepts %s', (path) => {
    expect(mountPathProblem(path)).toBeUndefined();
  });

  test.each(['', 'data', './data', '/data/../etc', '/a/./b', '//data', '/da ta', '/data;rm', `/${'x'.repeat(200)}`, '/dätä'])(
    'refuses %j as not a path',
    (path) => {
      expect(mountPathProblem(path)).toMatch(/is not a mount path; send an absolute path of letters, digits, "\.", "_" and "-", e\.g\. \{"path": "\/data"\}$/);
    },
  );

  test.each(['/', '/app', '/etc', '/proc', '/sys/fs', '/usr/lib', '/bin', '/dev/shm', '/run/x'])("refuses %s as the image's or the system's", (path) => {
    expect(mountPathProblem(path) ?? '').toMatch(/belongs to the image or the system; mount storage at a path of its own, e\.g\. \/data$|is not a mount path/);
  });

  test('the app directory itself is refused, a directory inside it is not', () => {
    expect(mountPathProblem('/app')).toBe('/app belongs to the image or the system; mount storage at a path of its own, e.g. /data');
    expect(mountPathProblem('/app/data')).toBeUndefined();
  });
});
