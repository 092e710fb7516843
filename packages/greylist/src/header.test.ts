import { expect, it } from 'vitest';
import { greylistHeader, rfc5322Date } from './header.ts';

it('formats the X-Greylist header like postgrey', () => {
  expect(rfc5322Date(Date.UTC(2026, 10, 24, 9, 5, 7) / 1000)).toBe('Tue, 24 Nov 2026 09:05:07 +0000');
  expect(greylistHeader(61, 'mx1.example.net', Date.UTC(2026, 0, 2, 3, 4, 5) / 1000)).toBe(
    'X-Greylist: delayed 61 seconds by moat-greylist at mx1.example.net; Fri, 2 Jan 2026 03:04:05 +0000',
  );
});
