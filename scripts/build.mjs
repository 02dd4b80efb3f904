// Bundles the service into dist/server.js: one file the container runs with no node_modules.
// PGlite stays external (its .wasm/.data load relative to its module; only embedded mode needs it).
import { build } from 'esbuild';

await build({
  entryPoints: ['app/server.ts'],
  outfile: 'dist/server.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  legalComments: 'none',
  // Whitespace and syntax only: identifiers keep their names for stack traces and profiles. V8 keeps
  // the bundle's source in the heap; this cuts it from 5.3 to 3.6 MB and RSS under load by ~18 MB.
  minifyWhitespace: true,
  minifySyntax: true,
  loader: { '.sql': 'text' },
  external: ['@electric-sql/pglite'],
  logLevel: 'warning',
});
