import { isUtf8 } from 'node:buffer';
import { expect, it } from 'vitest';
import { findInvalidUtf8 } from '../src/imports/utf8-scan.ts';

// The scanner only runs on chunks Node's native check refused; here the two must agree on random
// byte strings rich in lead, continuation, overlong and surrogate bytes, whole and cut short.
it('agrees with Buffer isUtf8 on 100,000 random byte strings', () => {
  const alphabet = [0x41, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0xc0, 0xff, 0x80, 0xf4, 0x90, 0xe0];
  let seed = 99;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let n = 0; n < 100_000; n++) {
    const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 8) }, () => alphabet[Math.floor(random() * alphabet.length)]!));
    const whole = findInvalidUtf8(bytes, true);
    expect(whole.invalid.length === 0).toBe(isUtf8(bytes));
    const cut = findInvalidUtf8(bytes, false);
    if (cut.incompleteTail > 0) {
      // What is held back is a valid start of a sequence, and what comes before it is judged alone.
      expect(cut.invalid.length === 0).toBe(isUtf8(bytes.subarray(0, bytes.length - cut.incompleteTail)));
    }
  }
});
