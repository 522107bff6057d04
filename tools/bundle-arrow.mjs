// Bundles apache-arrow (its Node entry, all of it, names kept) into one CommonJS file,
// dist/vendor/apache-arrow.cjs, which core/formats/arrow-lib.ts loads: one file reads in about
// 25 ms where the package's ~150 ES modules took 90-180 ms, in every thread of a columnar job.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
await build({
  // What `import … from "apache-arrow"` gives in Node: its Arrow.node.mjs.
  stdin: { contents: 'export * from "apache-arrow";', resolveDir: root, loader: "js" },
  outfile: join(root, "dist/vendor/apache-arrow.cjs"),
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  keepNames: true, // a batch logged by a job still says RecordBatch
  legalComments: "none",
  logLevel: "warning",
});
