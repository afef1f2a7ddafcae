// The web process: answers on $PORT, as every Slipway web process must.
const http = require('node:http');
const fs = require('node:fs');
const initSqlJs = require('sql.js');

const port = Number(process.env.PORT || 5000);
const build = JSON.parse(fs.readFileSync('build/info.json', 'utf8'));
// Written by the postdeploy hook (migrate.js) on the app's persistent storage.
const DATABASE_PATH = process.env.DATABASE_PATH || '/data/hello.db';
const sqlReady = initSqlJs();

// Reads the database fresh on every request: the hook of a later deploy replaces the file.
// sql.js works on an in-memory copy, so this never writes to the file.
async function databaseLines() {
  let bytes;
  try {
    bytes = fs.readFileSync(DATABASE_PATH);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    return [`database:  ${DATABASE_PATH} does not exist yet (the postdeploy hook creates it)`];
  }
  const db = new (await sqlReady).Database(bytes);
  try {
    const row = (sql) => db.exec(sql)[0]?.values[0] ?? [];
    const [schema] = row('SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1');
    const [releases] = row('SELECT count(*) FROM releases');
    const [commit, deployedAt] = row('SELECT commit_sha, deployed_at FROM releases ORDER BY id DESC LIMIT 1');
    return [
      `schema:    ${schema}`,
      `releases:  ${releases}`,
      `latest:    ${commit} (${deployedAt})`,
    ];
  } finally {
    db.close();
  }
}

const server = http.createServer(async (req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  let database;
  try {
    database = await databaseLines();
  } catch (error) {
    database = [`database:  cannot read ${DATABASE_PATH}: ${error.message}`];
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(
    [
      `Hello from ${process.env.APP} on Slipway!`,
      `container: ${process.env.CONTAINER}`,
      `version:   ${process.env.CONTAINER_VERSION}`,
      `stack:     ${process.env.STACK}`,
      `built at:  ${build.builtAt}`,
      ...database,
      '',
    ].join('\n'),
  );
});

server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
// Slipway stops old containers with SIGTERM once traffic has moved to the new ones.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
