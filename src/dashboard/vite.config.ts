import preact from '@preact/preset-vite';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

// The dashboard is built into dist/dashboard, next to the server's compiled files, which serve it.
export default defineConfig({
  root: here,
  base: '/',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: path.resolve(here, '../../dist/dashboard'),
    emptyOutDir: true,
    // The server gzips what it serves; Vite's own report would only repeat it.
    reportCompressedSize: false,
    sourcemap: false,
    target: 'es2022',
    // One file per kind: the page needs all of it at once anyway.
    modulePreload: { polyfill: false },
  },
});
