// DATA's transparency rule (RFC 5321 4.5.2): dot-stuffing and the final CRLF.CRLF of a message sent over SMTP/LMTP.
// Trusts nothing in the message: any bytes go out unchanged apart from the added dots.

/** Dot-stuff and terminate: lines starting with `.` get another one; the message ends with CRLF.CRLF. */
export function dotStuff(message: Buffer): Buffer {
  return Buffer.concat(dotStuffParts(message));
}

/** The same as slices of the message (no copy of a large message). */
export function dotStuffParts(message: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  if (message[0] === 0x2e) {
    parts.push(Buffer.from('.'));
  }
  for (let i = message.indexOf(0x0a); i >= 0; i = message.indexOf(0x0a, i + 1)) {
    if (message[i + 1] === 0x2e) {
      parts.push(message.subarray(start, i + 1), Buffer.from('.'));
      start = i + 1;
    }
  }
  parts.push(message.subarray(start));
  const endsWithCrlf = message.length >= 2 && message[message.length - 2] === 0x0d && message[message.length - 1] === 0x0a;
  parts.push(Buffer.from(endsWithCrlf ? '.\r\n' : '\r\n.\r\n'));
  return parts;
}
