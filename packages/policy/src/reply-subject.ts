// What a reply is about, kept apart from its words so each edge formats it once (mx: Postfix's full line;
// policyd: the words only, since Postfix adds the subject to a policy server's text itself). Pure.
import type { ReplySubject } from './types.ts';

/** Postfix's form: `<bob@example.org>: Recipient address rejected: words`. */
export function subjectText(subject: ReplySubject, words: string): string {
  return `<${subject.name}>: ${subject.context}: ${words}`;
}
