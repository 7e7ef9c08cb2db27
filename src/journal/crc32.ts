/**
 * CRC-32 (IEEE 802.3 polynomial, the one zlib, PNG and gzip use) for journal records.
 *
 * Why CRC-32 and not a hash: the failures a spill journal must detect are torn writes and
 * flipped bits, not tampering (integrity against tampering is the hash chain's job). CRC-32
 * detects every burst error up to 32 bits and any other corruption with probability
 * 1 - 2^-32, at a fraction of SHA-256's cost per record. `zlib.crc32` exists only from
 * Node 20.15 / 22.2 and our `engines` allows 20.10, and no CRC package is installed, so the
 * classic table-driven version is kept here as the fallback; both give identical results
 * (the unit test checks the standard check value and random inputs against each other).
 */
import * as zlib from 'node:zlib';

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Table-driven CRC-32 in plain JavaScript; `seed` continues a previous CRC. */
export function crc32Table(data: Uint8Array, seed = 0): number {
  let c = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native: ((data: Uint8Array, value?: number) => number) | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? zlib.crc32 : undefined;

/** CRC-32 of `data`, continuing from `seed`; uses zlib's native version when the runtime has it. */
export function crc32(data: Uint8Array, seed = 0): number {
  return native ? native(data, seed) >>> 0 : crc32Table(data, seed);
}
