// `npm run admin -- kubeconfig`: prints a kubeconfig for the local cluster's admin (npm start's).
// `npm run admin -- rotate`: makes a new admin token; the old one stops working once the control
// plane restarts with the new hash (npm start reads the file on start). For a deployed Worker it
// prints the hash to store with `wrangler secret put ADMIN_TOKEN_SHA256` (the token itself is
// written only to the file, never printed).
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kubeconfig, newAdminToken, PROJECT_ROOT, sha256Hex } from "./dev-server.ts";

const dir = join(PROJECT_ROOT, ".edgeplane");
const tokenFile = join(dir, "admin-token");
const command = process.argv[2];

if (command === "kubeconfig") {
  if (!existsSync(tokenFile)) throw new Error(`no ${tokenFile}: run npm start once first`);
  const token = readFileSync(tokenFile, "utf8").trim();
  const caFile = join(dir, "tls/serving.crt");
  const url = process.env.EDGEPLANE_URL ?? `https://127.0.0.1:${process.env.PORT ?? 8787}`;
  process.stdout.write(kubeconfig(url, token, existsSync(caFile) ? readFileSync(caFile, "utf8") : undefined));
} else if (command === "rotate") {
  const token = newAdminToken();
  writeFileSync(tokenFile, token + "\n", { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  console.log(`a new admin token is in ${tokenFile}.
  local cluster: restart npm start; the old token stops working then.
  deployed Worker: echo ${sha256Hex(token)} | npx wrangler secret put ADMIN_TOKEN_SHA256`);
} else {
  console.error("usage: npm run admin -- kubeconfig | rotate");
  process.exitCode = 2;
}
