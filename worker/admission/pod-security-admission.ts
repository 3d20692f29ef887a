// PodSecurity admission: wired in once the Pod Security Standards checker lands.
import type { AdmissionPlugin } from "./plugin.ts";

export const podSecurity: AdmissionPlugin = { name: "PodSecurity" };
