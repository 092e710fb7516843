import { describe, expect, it } from 'vitest';
import { hashPassword } from './password.ts';
import { hasUser, listUsers, parseUsersFile, removeUser, setUser } from './users-file.ts';

describe('users file', async () => {
  const h = await hashPassword('pw', { N: 1024 });
  const h2 = await hashPassword('pw2', { N: 1024 });

  it('parses user:hash lines, skipping comments and blanks; names are lower-cased', () => {
    const r = parseUsersFile(`# users\n\nAlice:${h}\r\nbob:${h2}\n`);
    expect(r.errors).toEqual([]);
    expect([...r.users.keys()]).toEqual(['alice', 'bob']);
  });

  it('reports each bad line by number', () => {
    const r = parseUsersFile(`alice:${h}\nbob\ncarol:scrypt$1$2\n:${h}\nalice:${h2}\nda ve:${h}\n`);
    expect(r.errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6]);
    expect(r.errors[3]!.message).toBe('a second line for the same user');
    expect([...r.users.keys()]).toEqual(['alice']);
  });

  it('sets a user in place, appends a new one and keeps comments', () => {
    const text = `# keep me\nalice:${h}\nbob:${h}\n`;
    const t2 = setUser(text, 'Alice', h2);
    expect(t2).toBe(`# keep me\nalice:${h2}\nbob:${h}\n`);
    expect(setUser(t2, 'carol', h)).toBe(`${t2}carol:${h}\n`);
    expect(setUser('', 'dave', h)).toBe(`dave:${h}\n`);
    expect(() => setUser(text, 'bad name', h)).toThrow(RangeError);
    expect(() => setUser(text, 'a:b', h)).toThrow(RangeError);
    expect(() => setUser(text, 'x', 'not-a-hash')).toThrow(RangeError);
  });

  it('removes a user and says whether it was there', () => {
    const text = `# c\nalice:${h}\nbob:${h}\n`;
    expect(removeUser(text, 'ALICE')).toEqual({ text: `# c\nbob:${h}\n`, removed: true });
    expect(removeUser(text, 'nobody')).toEqual({ text, removed: false });
    expect(hasUser(text, 'Bob')).toBe(true);
  });

  it('lists users with the kind of their hash', () => {
    expect(listUsers(`# c\nalice:${h}\nbob:garbage\n`)).toEqual([
      { user: 'alice', kind: 'scrypt', line: 2 },
      { user: 'bob', kind: 'invalid', line: 3 },
    ]);
  });
});
