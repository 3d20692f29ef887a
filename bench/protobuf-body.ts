// A ConfigMap as kubectl 1.32+ sends it: the Kubernetes protobuf envelope ("k8s\0" + runtime.Unknown
// holding the typed message), written by hand for the benchmark (field numbers from
// k8s.io/api/core/v1 and apimachinery's generated.proto).

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A length-delimited field: tag (field number, wire type 2), length, bytes. */
function field(number: number, bytes: Uint8Array | number[]): number[] {
  return [...varint((number << 3) | 2), ...varint(bytes.length), ...bytes];
}

const text = (s: string) => [...Buffer.from(s, "utf8")];

export function configMapProtobuf(name: string, namespace: string, data: Record<string, string>): Buffer {
  const metadata = [...field(1, text(name)), ...field(3, text(namespace))];
  const entries = Object.entries(data).flatMap(([k, v]) => field(2, [...field(1, text(k)), ...field(2, text(v))]));
  const configMap = [...field(1, metadata), ...entries];
  const typeMeta = [...field(1, text("v1")), ...field(2, text("ConfigMap"))];
  const unknown = [...field(1, typeMeta), ...field(2, configMap)];
  return Buffer.from([0x6b, 0x38, 0x73, 0x00, ...unknown]);
}
