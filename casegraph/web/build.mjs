// Bundle src/vendor.js and copy the libraries' style sheets into static/vendor (run by scripts/setup).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

const out = new URL("./static/vendor/", import.meta.url);
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [new URL("./src/vendor.js", import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  outfile: new URL("vendor.js", out).pathname,
  legalComments: "linked",
});
copyFileSync(new URL("./node_modules/leaflet/dist/leaflet.css", import.meta.url), new URL("leaflet.css", out));
copyFileSync(new URL("./node_modules/uplot/dist/uPlot.min.css", import.meta.url), new URL("uPlot.min.css", out));
console.log("casegraph web: static/vendor built");
