/**
 * On-disk record format of the spill journal, and the decoder that walks a segment.
 *
 * Each record is a 20-byte header followed by the payload (the UTF-8 bytes of a string):
 *
 * | offset | size | field                                                     |
 * |--------|------|-----------------------------------------------------------|
 * | 0      | 4    | magic `FF 41 4A 31` (`\xFF` `AJ1`)                         |
 * | 4      | 4    | payload length, uint32 little-endian                      |
 * | 8      | 8    | appendedAt, epoch milliseconds, float64 little-endian     |
 * | 16     | 4    | CRC-32 of bytes 4..16 and the payload, uint32 little-endian |
 *
 * Why a per-record magic: after a corrupt record the decoder resynchronizes by searching for
 * the next magic. The first magic byte is 0xFF, which never occurs in UTF-8, so a payload
 * (always a JS string encoded as UTF-8) can never contain a false magic; every candidate the
 * search finds is a real record start (or a corrupted one, which its CRC rejects).
 *
 * What is recoverable: a flipped byte anywhere in a record (magic, length, timestamp, CRC or
 * payload) loses that record only; the decoder skips to the next valid record. A torn tail
 * (the file ends mid-record after a crash) loses the incomplete record(s) at the end. Bytes of
 * garbage between records are skipped. Nothing that fails its CRC is ever returned.
 */
import { crc32 } from './crc32.js';

export const MAGIC = Buffer.from([0xff, 0x41, 0x4a, 0x31]);
export const HEADER_BYTES = 20;

/** Why a region of a segment was skipped. */
export type CorruptionReason = 'torn-tail' | 'checksum' | 'bad-header';

/** Encodes one record (header + payload). */
export function encodeRecord(payload: Buffer, appendedAt: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(payload.length, 4);
  out.writeDoubleLE(appendedAt, 8);
  payload.copy(out, HEADER_BYTES);
  const crc = crc32(out.subarray(HEADER_BYTES), crc32(out.subarray(4, 16)));
  out.writeUInt32LE(crc, 16);
  return out;
}

/** One valid record found in a buffer; offsets are relative to the buffer. */
export interface DecodedRecord {
  kind: 'record';
  offset: number;
  /** Offset just past this record. */
  next: number;
  appendedAt: number;
  payloadStart: number;
}

/** A skipped region: `[offset, next)` held no valid record. */
export interface CorruptRegion {
  kind: 'corrupt';
  offset: number;
  next: number;
  reason: CorruptionReason;
}

type Attempt = DecodedRecord | { kind: 'fail'; reason: CorruptionReason };

function tryDecode(buf: Buffer, pos: number): Attempt {
  if (buf.length - pos < HEADER_BYTES) {
    // A header that does not fit may still be a plain mismatch, e.g. garbage at the end.
    const avail = Math.min(MAGIC.length, buf.length - pos);
    const prefixOk = buf.subarray(pos, pos + avail).equals(MAGIC.subarray(0, avail));
    return { kind: 'fail', reason: prefixOk ? 'torn-tail' : 'bad-header' };
  }
  if (buf.compare(MAGIC, 0, MAGIC.length, pos, pos + MAGIC.length) !== 0) {
    return { kind: 'fail', reason: 'bad-header' };
  }
  const len = buf.readUInt32LE(pos + 4);
  const end = pos + HEADER_BYTES + len;
  if (end > buf.length) return { kind: 'fail', reason: 'torn-tail' };
  const crc = crc32(buf.subarray(pos + HEADER_BYTES, end), crc32(buf.subarray(pos + 4, pos + 16)));
  if (crc !== buf.readUInt32LE(pos + 16)) return { kind: 'fail', reason: 'checksum' };
  return {
    kind: 'record',
    offset: pos,
    next: end,
    appendedAt: buf.readDoubleLE(pos + 8),
    payloadStart: pos + HEADER_BYTES,
  };
}

/**
 * Decodes what starts at `pos`: a valid record, a corrupt region followed by the next valid
 * record's offset (or the end of the buffer), or `null` at the end of the buffer. The buffer
 * must end at a point where no more bytes will follow (a sealed segment, or the active
 * segment up to the last completed write), so an incomplete record is a torn tail.
 */
export function decodeAt(buf: Buffer, pos: number): DecodedRecord | CorruptRegion | null {
  if (pos >= buf.length) return null;
  const first = tryDecode(buf, pos);
  if (first.kind === 'record') return first;
  let idx = buf.indexOf(MAGIC, pos + 1);
  while (idx !== -1) {
    if (tryDecode(buf, idx).kind === 'record') {
      // A torn record followed by a valid one is not a tail: it is a damaged length field.
      const reason = first.reason === 'torn-tail' ? 'checksum' : first.reason;
      return { kind: 'corrupt', offset: pos, next: idx, reason };
    }
    idx = buf.indexOf(MAGIC, idx + 1);
  }
  return { kind: 'corrupt', offset: pos, next: buf.length, reason: first.reason };
}
