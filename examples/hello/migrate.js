// The postdeploy hook (`postdeploy: node migrate.js` in the Procfile). Slipway runs it in a
// one-off container after the new web container has booted and before it gets any traffic,
// with the app's persistent storage mounted at /data, exactly as in the web container.
//
// If it exits non-zero, the deploy fails with hook-error, the new containers are stopped and
// the previous version keeps serving; the database is unchanged, because the file is only
// replaced (atomically) once every migration has succeeded.
const fs = require('node:fs');
const path = require('node:path');
const initSqlJs = require('sql.js');

const DATABASE_PATH = process.env.DATABASE_PATH || '/data/hello.db';

// In order. Once deployed, a migration is never edited: add a new one instead.
const migrations = [
  [
    '001_create_releases',
    `CREATE TABLE releases (
       id INTEGER PRIMARY KEY AUTOINCREMENT,
       commit_sha TEXT NOT NULL,
       deployed_at TEXT NOT NULL
     )`,
  ],
  ['002_index_releases_commit', 'CREATE INDEX releases_commit ON releases (commit_sha)'],
];

async function main() {
  const dir = path.dirname(DATABASE_PATH);
  if (!fs.existsSync(dir)) {
    throw new Error(
      `${dir} does not exist: mount persistent storage there with ` +
        `"slipway storage:mount ${dir} -a ${process.env.APP || '$APP'}", then push again`,
    );
  }

  // sql.js is SQLite compiled to WebAssembly: it works on a copy of the database in memory.
  const SQL = await initSqlJs();
  const existing = fs.existsSync(DATABASE_PATH);
  const db = existing ? new SQL.Database(fs.readFileSync(DATABASE_PATH)) : new SQL.Database();
  console.log(`${existing ? 'Opened' : 'Creating'} ${DATABASE_PATH}`);

  db.run('CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
  const applied = new Set(db.exec('SELECT version FROM schema_migrations')[0]?.values.map(([v]) => v) ?? []);

  let count = 0;
  for (const [version, sql] of migrations) {
    if (applied.has(version)) {
      console.log(`${version} ... already applied`);
      continue;
    }
    db.run(sql);
    db.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [version, new Date().toISOString()]);
    console.log(`applying ${version} ... done`);
    count += 1;
  }

  const commit = process.env.CONTAINER_VERSION || 'unknown';
  db.run('INSERT INTO releases (commit_sha, deployed_at) VALUES (?, ?)', [commit, new Date().toISOString()]);
  const releases = db.exec('SELECT count(*) FROM releases')[0].values[0][0];

  writeAtomically(DATABASE_PATH, db.export());
  db.close();

  const schema = migrations[migrations.length - 1][0];
  console.log(`migrations complete: ${count} applied, ${migrations.length - count} already applied, schema at ${schema}`);
  console.log(`recorded release ${commit.slice(0, 7)}: ${releases} release(s) in ${DATABASE_PATH}`);
}

// Readers (the web processes, old and new) see either the old file or the new one, never half
// of one: write a temporary file next to it, flush it to disk, then rename it over the old one.
function writeAtomically(file, bytes) {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    const fd = fs.openSync(temp, 'w', 0o644);
    try {
      fs.writeFileSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
  // Flush the directory too, so the rename itself survives a crash.
  const dirFd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

main().catch((error) => {
  console.error(`migration failed: ${error.message}`);
  process.exit(1);
});
