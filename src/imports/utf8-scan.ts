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
