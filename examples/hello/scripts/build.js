// Runs during the image build (`npm run build`): bakes build facts into the image.
const fs = require('node:fs');

fs.mkdirSync('build', { recursive: true });
fs.writeFileSync(
  'build/info.json',
  JSON.stringify({ builtAt: new Date().toISOString(), sourceVersion: process.env.SOURCE_VERSION || null }, null, 2),
);
console.log('build: wrote build/info.json');
