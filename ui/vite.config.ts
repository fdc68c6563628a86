import react from '@vitejs/plugin-react';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/ui', import.meta.url));
/** The console bundles the client package from its source (as ui/tsconfig.json checks it): no prior build. */
const client = fileURLToPath(new URL('../packages/client/src/index.ts', import.meta.url));

/**
 * Writes `.br` and `.gz` next to each asset, once at build time; @fastify/static (`preCompressed`) sends them
 * to browsers that accept them, so the server never compresses on a request.
 */
function precompress(): Plugin {
  return {
    name: 'gatehouse-precompress',
    apply: 'build',
    closeBundle() {
      const assets = join(outDir, 'assets');
      for (const name of readdirSync(assets).filter((n) => /\.(js|css|svg)$/.test(n))) {
        const file = join(assets, name);
        const body = readFileSync(file);
        writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
        writeFileSync(
          `${file}.br`,
          brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
      }
    },
  };
}

// The console is served by Gatehouse at `/` (src/http/console.ts); `npm run dev:ui` proxies the API.
export default defineConfig({
  root,
  base: '/',
  plugins: [react(), precompress()],
  resolve: { alias: { '@gatehouse/client': client } },
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    // A strict CSP (script-src 'self') forbids inline scripts; Vite emits none, and no module preload polyfill.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 700,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
