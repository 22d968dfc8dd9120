// Builds the portal's browser assets into ../static/ (committed, so `make run` needs no Node):
//   static/js/editor.bundle.js  the dialplan editor: CodeMirror 6 + Python mode, one IIFE file
//   static/vendor/htmx.min.js   htmx, copied byte for byte from the pinned npm package
// `node build.mjs --check` rebuilds in memory and fails if a committed file differs, which
// proves the committed bundle is what these sources and package-lock.json produce.
import { build } from "esbuild";
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const staticDir = join(here, "..", "static");
const check = process.argv.includes("--check");

async function editorBundle() {
  const result = await build({
    entryPoints: [join(here, "src", "editor.js")],
    bundle: true,
    minify: true,
    format: "iife",
    target: ["es2020"],
    legalComments: "eof",
    charset: "utf8",
    write: false,
    logLevel: "warning",
  });
  return Buffer.from(result.outputFiles[0].contents);
}

async function htmx() {
  return readFile(join(here, "node_modules", "htmx.org", "dist", "htmx.min.js"));
}

const outputs = [
  [join(staticDir, "js", "editor.bundle.js"), await editorBundle()],
  [join(staticDir, "vendor", "htmx.min.js"), await htmx()],
];

let stale = 0;
for (const [path, bytes] of outputs) {
  if (check) {
    const committed = await readFile(path).catch(() => Buffer.alloc(0));
    if (!committed.equals(bytes)) {
      console.error(`${path} differs from a fresh build: run \`npm run build\` in frontend/`);
      stale += 1;
    }
  } else {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    console.log(`wrote ${path} (${bytes.length} bytes)`);
  }
}
if (stale) process.exit(1);
if (check) console.log("static assets match a fresh build");
