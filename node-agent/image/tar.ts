// A ustar archive writer for the image builder: files, directories and symlinks owned by root with
// the epoch as their time, so the same input always gives the same bytes (and image digest).

export type TarEntry =
  | { path: string; type: "file"; mode: number; data: Buffer }
  | { path: string; type: "directory"; mode: number }
  | { path: string; type: "symlink"; mode: number; linkTarget: string };

const BLOCK = 512;
const TYPE_FLAGS = { file: "0", symlink: "2", directory: "5" } as const;

/** Writes `value` as a zero-padded octal number filling `width - 1` digits and a NUL. */
function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** Splits a long path into ustar's prefix (up to 155 bytes) and name (up to 100 bytes). */
function splitPath(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: "", name: path };
  const cut = path.lastIndexOf("/", path.length - 2);
  const prefix = path.slice(0, cut);
  const name = path.slice(cut + 1);
  if (cut < 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(name) > 100) throw new Error(`tar: path too long: ${path}`);
  return { prefix, name };
}

function header(entry: TarEntry, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const { prefix, name } = splitPath(entry.path);
  block.write(name, 0, 100, "utf8");
  block.write(octal(entry.mode, 8), 100, "latin1");
  block.write(octal(0, 8), 108, "latin1"); // uid
  block.write(octal(0, 8), 116, "latin1"); // gid
  block.write(octal(size, 12), 124, "latin1");
  block.write(octal(0, 12), 136, "latin1"); // mtime
  block.write("        ", 148, "latin1"); // checksum placeholder: eight spaces
  block.write(TYPE_FLAGS[entry.type], 156, "latin1");
  if (entry.type === "symlink") block.write(entry.linkTarget, 157, 100, "utf8");
  block.write("ustar\0" + "00", 257, "latin1");
  block.write("root", 265, "latin1");
  block.write("root", 297, "latin1");
  block.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + " ", 148, "latin1");
  return block;
}

export function writeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === "file" ? entry.data : Buffer.alloc(0);
    parts.push(header(entry, data.length), data);
    const padding = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (padding) parts.push(Buffer.alloc(padding));
  }
  parts.push(Buffer.alloc(BLOCK * 2)); // end of archive
  return Buffer.concat(parts);
}
