// A loopback next hop for the tests that run the real moat-mx and deliver: an smtp-server that accepts every
// message (no STARTTLS, no AUTH needed, no reverse lookup) and keeps each one with its envelope, in arrival order.
import { freePort } from '@moat/testkit';
import { SMTPServer } from 'smtp-server';

/** One delivered message with its envelope. */
export interface SinkMessage {
  sender: string;
  recipients: string[];
  data: string;
}

export interface NextHopSink {
  port: number;
  /** Each delivered message, as text, in the order they arrived. */
  delivered: string[];
  /** The same messages with their envelopes. */
  received: SinkMessage[];
  close(): Promise<void>;
}

export async function startNextHopSink(): Promise<NextHopSink> {
  const port = await freePort();
  const delivered: string[] = [];
  const received: SinkMessage[] = [];
  const sink = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const data = Buffer.concat(chunks).toString();
        delivered.push(data);
        received.push({ sender: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', recipients: session.envelope.rcptTo.map((r) => r.address), data });
        cb();
      });
    },
  });
  await new Promise<void>((r) => sink.listen(port, '127.0.0.1', r));
  return { port, delivered, received, close: () => new Promise<void>((r) => sink.close(() => r())) };
}
