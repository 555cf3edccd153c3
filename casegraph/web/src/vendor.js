// The workspace's libraries, bundled once by `npm run build` into static/vendor/vendor.js (window.CGV).
import Graph from "graphology";
import Sigma from "sigma";
import forceAtlas2 from "graphology-layout-forceatlas2";
import FA2Layout from "graphology-layout-forceatlas2/worker";
import L from "leaflet";
import uPlot from "uplot";

window.CGV = { Graph, Sigma, forceAtlas2, FA2Layout, L, uPlot };
