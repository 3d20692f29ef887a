// `npm run build:agent`: the node agent as one self-contained file, dist/edgeplane-agent.mjs, that
// Node.js 20+ runs on a host with nothing installed from npm (esbuild bundles node-agent/main.ts
// with everything it imports; Node's own modules stay imports).
import { chmodSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { PROJECT_ROOT } from "./dev-server.ts";

export const AGENT_BUNDLE = join(PROJECT_ROOT, "dist/edgeplane-agent.mjs");

export async function buildAgent(outfile = AGENT_BUNDLE): Promise<void> {
  await build({
    entryPoints: [join(PROJECT_ROOT, "node-agent/main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    legalComments: "linked",
    logLevel: "warning",
    // CommonJS packages in the bundle (gRPC) call require() for Node's modules, which ESM lacks.
    banner: { js: '#!/usr/bin/env node\nimport { createRequire as __createRequire } from "node:module";\nconst require = __createRequire(import.meta.url);' },
  });
  chmodSync(outfile, 0o755);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildAgent();
  console.log(`${AGENT_BUNDLE} (${Math.round(statSync(AGENT_BUNDLE).size / 1024)} KiB): copy it to a host with Node.js 20+ and run
  node edgeplane-agent.mjs join --server URL --token ID.SECRET --ca-cert-sha256 HEX`);
}
