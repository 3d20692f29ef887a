// The bridge's TLS as kubeadm sets etcd up: its own CA, a server certificate (serverAuth and
// clientAuth, for 127.0.0.1 and localhost) and a client certificate for etcdctl, made once per
// folder with openssl; the server accepts only clients whose certificate that CA signed.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";

export interface EtcdCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A key and a certificate signed by the folder's CA, with the given extensions. */
function issue(dir: string, name: string, subject: string, extensions: string[]): void {
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  openssl(["req", ...EC_KEY, "-keyout", join(dir, `${name}.key`), "-out", csr, "-subj", subject]);
  writeFileSync(ext, extensions.join("\n") + "\n");
  openssl([
    "x509", "-req", "-in", csr, "-CA", join(dir, "ca.crt"), "-CAkey", join(dir, "ca.key"), "-CAcreateserial",
    "-out", join(dir, `${name}.crt`), "-days", "3650", "-sha256", "-extfile", ext,
  ]);
  rmSync(csr);
  rmSync(ext);
}

/**
 * The CA, server and client certificates in `dir` (made when missing). `hosts` are the names and
 * addresses the server certificate covers besides 127.0.0.1 and localhost.
 */
export function etcdCertificates(dir: string, hosts: string[] = []): EtcdCertificates {
  const files: EtcdCertificates = {
    dir, caCert: join(dir, "ca.crt"), serverCert: join(dir, "server.crt"), serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"), clientKey: join(dir, "client.key"),
  };
  if ([files.caCert, files.serverCert, files.serverKey, files.clientCert, files.clientKey].every(existsSync)) return files;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  openssl([
    "req", "-x509", ...EC_KEY, "-keyout", join(dir, "ca.key"), "-out", files.caCert, "-days", "3650", "-subj", "/CN=etcd-ca",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ]);
  const names = [...new Set(["127.0.0.1", "localhost", ...hosts])].map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`));
  issue(dir, "server", "/CN=edgeplane-etcd", [
    `subjectAltName=${names.join(",")}`, "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth,clientAuth",
  ]);
  issue(dir, "client", "/O=system:masters/CN=edgeplane-etcd-client", [
    "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=clientAuth",
  ]);
  rmSync(join(dir, "ca.srl"), { force: true });
  return files;
}
