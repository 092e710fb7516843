import { describe, expect, it } from 'vitest';
import { generatePassword, PASSWORD_ALPHABET, passwordEntropyBits } from './generate.ts';

describe('generated passwords', () => {
  it('use only letters and digits: nothing a shell, URL or client misreads, never a leading -', () => {
    expect(PASSWORD_ALPHABET).toMatch(/^[A-Za-z0-9]+$/);
    expect(new Set(PASSWORD_ALPHABET).size).toBe(PASSWORD_ALPHABET.length);
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      expect(p).toMatch(/^[A-Za-z0-9]{22}$/);
      expect(p).not.toMatch(/[0O1lI]/);
    }
  });

  it('carry at least 128 bits by default', () => {
    expect(passwordEntropyBits(22)).toBeGreaterThanOrEqual(128);
  });

  it('uses every character of the alphabet (uniform draw)', () => {
    const seen = new Set(Array.from({ length: 100 }, () => generatePassword(64)).join(''));
    expect(seen.size).toBe(PASSWORD_ALPHABET.length);
  });

  it('refuses lengths that give too little entropy', () => {
    expect(() => generatePassword(8)).toThrow(RangeError);
  });
});
