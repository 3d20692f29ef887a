// Encryption at rest, as kube-apiserver's EncryptionConfiguration with the aesgcm provider does it:
// values of the configured resources are sealed with AES-GCM before they reach the store.
import { fromBase64, fromUtf8, utf8 } from "../../lib/etcd/gateway-json.ts";
import { apiErrors, type ApiError } from "../../lib/k8s/status.ts";

/** kube's envelope: `k8s:enc:aesgcm:v1:<key name>:` then the 12-byte nonce, the ciphertext and its tag. */
const ENCRYPTED_PREFIX = "k8s:enc:";
const AESGCM_PREFIX = `${ENCRYPTED_PREFIX}aesgcm:v1:`;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** Key names are echoed in errors and envelopes, so they are kept to plain characters. */
const KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export const DEFAULT_ENCRYPTED_RESOURCES = "secrets";

interface NamedKey {
  name: string;
  key: CryptoKey;
}

/** A stored value opened: its plaintext, and whether it is not in the form a write would give it now. */
export interface OpenedValue {
  plaintext: Uint8Array;
  stale: boolean;
}

/** A configuration error, worded without any key material. */
function configError(message: string): ApiError {
  return apiErrors.internal(`encryption at rest is misconfigured: ${message}`);
}

function transformError(storageKey: string, message: string): ApiError {
  return apiErrors.internal(`unable to transform key "${storageKey}": ${message}`);
}

/** `name:base64key,...` as raw keys; the first one encrypts, all of them decrypt. */
export function parseEncryptionKeys(setting: string): { name: string; secret: Uint8Array }[] {
  const entries = setting.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const colon = entry.indexOf(":");
    const name = entry.slice(0, colon);
    // Neither the entry nor its key is ever echoed: a malformed entry may be a bare key.
    if (colon < 0 || !KEY_NAME.test(name)) {
      throw configError(`ENCRYPTION_KEYS entry ${i + 1} is not name:base64key (names are letters, digits, '.', '_' or '-')`);
    }
    if (seen.has(name)) throw configError(`ENCRYPTION_KEYS names the key "${name}" twice`);
    seen.add(name);
    let secret: Uint8Array;
    try {
      secret = fromBase64(entry.slice(colon + 1), "ENCRYPTION_KEYS");
    } catch {
      throw configError(`ENCRYPTION_KEYS key "${name}" is not standard base64`);
    }
    if (secret.length !== KEY_BYTES) throw configError(`ENCRYPTION_KEYS key "${name}" is ${secret.length} bytes, aesgcm keys are ${KEY_BYTES}`);
    return { name, secret };
  });
}

/** The resources a setting such as "secrets,configmaps,deployments.apps" names. */
export function parseEncryptedResources(setting: string | undefined): string[] {
  return (setting ?? DEFAULT_ENCRYPTED_RESOURCES).split(",").map((r) => r.trim()).filter((r) => r !== "");
}

/**
 * Turns values into their stored form and back. Reads accept every form (plaintext written before
 * encryption was configured, or values sealed with any configured key); writes seal values under
 * the encrypted prefixes with the first key, and leave everything else plaintext.
 */
export class ValueTransformer {
  constructor(
    private readonly keys: readonly NamedKey[],
    private readonly encryptedPrefixes: readonly string[],
  ) {}

  encrypts(storageKey: string): boolean {
    return this.keys.length > 0 && this.encryptedPrefixes.some((prefix) => storageKey.startsWith(prefix));
  }

  async toStorage(storageKey: string, plaintext: Uint8Array): Promise<Uint8Array> {
    if (!this.encrypts(storageKey)) return plaintext;
    const { name, key } = this.keys[0]!;
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    // The storage key is authenticated with the value, so a value copied to another key fails to open.
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: utf8(storageKey) }, key, plaintext));
    const prefix = utf8(`${AESGCM_PREFIX}${name}:`);
    const out = new Uint8Array(prefix.length + NONCE_BYTES + sealed.length);
    out.set(prefix);
    out.set(nonce, prefix.length);
    out.set(sealed, prefix.length + NONCE_BYTES);
    return out;
  }

  async fromStorage(storageKey: string, stored: Uint8Array): Promise<OpenedValue> {
    const encrypts = this.encrypts(storageKey);
    if (!startsWith(stored, ENCRYPTED_PREFIX)) return { plaintext: stored, stale: encrypts };
    if (!startsWith(stored, AESGCM_PREFIX)) {
      const provider = fromUtf8(stored.subarray(ENCRYPTED_PREFIX.length, ENCRYPTED_PREFIX.length + 16)).split(":")[0]!;
      throw transformError(storageKey, `the value is sealed by the provider "${KEY_NAME.test(provider) ? provider : "(unreadable)"}", which is not supported; only aesgcm is`);
    }
    const nameEnd = stored.indexOf(0x3a /* : */, AESGCM_PREFIX.length);
    const name = nameEnd < 0 ? "" : fromUtf8(stored.subarray(AESGCM_PREFIX.length, nameEnd));
    if (!KEY_NAME.test(name)) throw transformError(storageKey, "the aesgcm envelope has no readable key name");
    const named = this.keys.find((k) => k.name === name);
    if (!named) {
      throw transformError(storageKey, this.keys.length
        ? `the value is sealed with the aesgcm key "${name}", which ENCRYPTION_KEYS does not hold`
        : `the value is sealed with the aesgcm key "${name}", but ENCRYPTION_KEYS is not set`);
    }
    const body = stored.subarray(nameEnd + 1);
    if (body.length < NONCE_BYTES + TAG_BYTES) throw transformError(storageKey, `aesgcm key "${name}": the value is too short to be a sealed value`);
    let plaintext: ArrayBuffer;
    try {
      plaintext = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: body.subarray(0, NONCE_BYTES), additionalData: utf8(storageKey) }, named.key, body.subarray(NONCE_BYTES));
    } catch {
      throw transformError(storageKey, `aesgcm key "${name}": message authentication failed (the value was altered, or was sealed for another key)`);
    }
    return { plaintext: new Uint8Array(plaintext), stale: !encrypts || named !== this.keys[0] };
  }
}

function startsWith(bytes: Uint8Array, prefix: string): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix.charCodeAt(i)) return false;
  return true;
}

/** Per isolate: the CryptoKeys are imported once for the settings the isolate runs with. */
let cached: { settings: string; transformer: Promise<ValueTransformer> } | undefined;

/**
 * The transformer for `env`'s ENCRYPTION_KEYS and ENCRYPTED_RESOURCES; `prefixOf` says under which
 * storage key prefix a named resource's objects live. A bad setting fails every call, so no value
 * is written in plaintext that was meant to be sealed.
 */
export function valueTransformer(env: Env, prefixOf: (resource: string) => string): Promise<ValueTransformer> {
  const settings = `${env.ENCRYPTION_KEYS ?? ""}\n${env.ENCRYPTED_RESOURCES ?? DEFAULT_ENCRYPTED_RESOURCES}`;
  if (cached?.settings !== settings) cached = { settings, transformer: loadTransformer(env, prefixOf) };
  return cached.transformer;
}

async function loadTransformer(env: Env, prefixOf: (resource: string) => string): Promise<ValueTransformer> {
  const raw = parseEncryptionKeys(env.ENCRYPTION_KEYS ?? "");
  const prefixes = parseEncryptedResources(env.ENCRYPTED_RESOURCES).map(prefixOf);
  const keys = await Promise.all(raw.map(async ({ name, secret }) => ({
    name, key: await crypto.subtle.importKey("raw", secret, "AES-GCM", false, ["encrypt", "decrypt"]),
  })));
  return new ValueTransformer(keys, prefixes);
}
