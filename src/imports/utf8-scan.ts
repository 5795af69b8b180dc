import { isUtf8 } from 'node:buffer';

/**
 * Positions of bytes that do not belong to a valid UTF-8 sequence (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). Only called on chunks that Buffer's native isUtf8 refused,
 * so its speed matters little. A sequence cut off by the end of the chunk is not an error unless
 * `atEnd`: its length is returned as incompleteTail, for the caller to carry into the next chunk.
 */
export function findInvalidUtf8(bytes: Uint8Array, atEnd: boolean): { invalid: number[]; incompleteTail: number } {
  const invalid: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const [length, secondMin, secondMax] = sequenceRule(lead);
    if (length === 0) {
      invalid.push(i++);
      continue;
    }
    let valid = true;
    let j = 1;
    for (; j < length && i + j < bytes.length; j++) {
      const byte = bytes[i + j]!;
      const [min, max] = j === 1 ? [secondMin, secondMax] : [0x80, 0xbf];
      if (byte < min || byte > max) {
        valid = false;
        break;
      }
    }
    if (valid && i + j === bytes.length && j < length) {
      if (!atEnd) return { invalid, incompleteTail: bytes.length - i };
      valid = false;
    }
    if (valid) i += length;
    else invalid.push(i++);
  }
  return { invalid, incompleteTail: 0 };
}

/** [sequence length, allowed range of the second byte] for a lead byte; length 0 = never valid. */
function sequenceRule(lead: number): [number, number, number] {
  if (lead >= 0xc2 && lead <= 0xdf) return [2, 0x80, 0xbf];
  if (lead === 0xe0) return [3, 0xa0, 0xbf];
  if (lead === 0xed) return [3, 0x80, 0x9f];
  if (lead >= 0xe1 && lead <= 0xef) return [3, 0x80, 0xbf];
  if (lead === 0xf0) return [4, 0x90, 0xbf];
  if (lead >= 0xf1 && lead <= 0xf3) return [4, 0x80, 0xbf];
  if (lead === 0xf4) return [4, 0x80, 0x8f];
  return [0, 0, 0];
}

/**
 * How the start of a file reads as UTF-8: `valid` (ASCII included); `broken` (some invalid bytes,
 * but also valid multi-byte sequences: UTF-8 with a few bad bytes, whose records the parser
 * rejects); `not-utf8` (high bytes, none of them in a valid sequence: another encoding). A
 * sequence cut off by the end of `bytes` counts as neither unless `atEnd`.
 */
export function classifyUtf8(bytes: Uint8Array, atEnd: boolean): 'valid' | 'broken' | 'not-utf8' {
  if (isUtf8(bytes)) return 'valid';
  const { invalid, incompleteTail } = findInvalidUtf8(bytes, atEnd);
  if (invalid.length === 0) return 'valid';
  let high = 0;
  for (let i = 0; i < bytes.length - incompleteTail; i++) if (bytes[i]! >= 0x80) high++;
  // Each invalid position is one high byte; any other high byte belongs to a valid sequence.
  return high > invalid.length ? 'broken' : 'not-utf8';
}
