// The deterministic message number n used by the crash test (child and parent build the same bytes).
export function crashMessage(n: number): Buffer {
  let x = (n * 2654435761) >>> 0;
  const rnd = () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x;
  };
  const lines = [`From: crash@sender.test`, `To: box@example.test`, `Subject: crash ${n}`, `X-Crash-N: ${n}`, ''];
  const count = 1 + (rnd() % 300);
  for (let i = 0; i < count; i++) {
    const len = rnd() % 70;
    const lead = rnd() % 7 === 0 ? '.' : '';
    lines.push(lead + 'x'.repeat(len) + String(i));
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n`);
}
