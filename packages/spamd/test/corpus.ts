// A tiny Bayes corpus for the learning tests: spam and ham that share no vocabulary, each with its own
// Message-ID (Bayes remembers what it learned by Message-ID), and near copies of them to score.
let seq = 0;

function message(subject: string, body: string, id = `${Date.now()}.${++seq}`): Buffer {
  return Buffer.from(
    [
      'From: Sender <sender@example.org>',
      'To: bob@example.net',
      `Subject: ${subject}`,
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
      `Message-ID: <${id}@example.org>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

const SPAM_WORDS =
  'zorblax quintuple vexorine miracle pills cheap glimmerfox discount pharmacy unclaimed lottery ' +
  'prize wirebank transfer sapphirex guaranteed megaprofit crypto doubler exclusive offer';
const HAM_WORDS =
  'quarterly budget review agenda thursday meeting minutes attached project milestone retrospective ' +
  'roadmap draft comments deadline friday team lunch notes backlog grooming sprint';

/** The n-th spam of the corpus (same vocabulary, different order and Message-ID). */
export function spam(n: number, id?: string): Buffer {
  const words = SPAM_WORDS.split(' ');
  const body = Array.from({ length: 6 }, (_, i) => words.slice((i + n) % words.length).concat(words.slice(0, (i + n) % words.length)).join(' ')).join('\r\n');
  return message(`exclusive megaprofit offer ${n}`, body, id);
}

/** The n-th ham of the corpus. */
export function ham(n: number, id?: string): Buffer {
  const words = HAM_WORDS.split(' ');
  const body = Array.from({ length: 6 }, (_, i) => words.slice((i + n) % words.length).concat(words.slice(0, (i + n) % words.length)).join(' ')).join('\r\n');
  return message(`notes from the project meeting ${n}`, body, id);
}

/** The Bayes rule spamd's SYMBOLS names (BAYES_00 .. BAYES_999), or undefined. */
export function bayesRule(symbols: readonly string[]): string | undefined {
  return symbols.filter((s) => s.startsWith('BAYES_')).sort().at(-1);
}

/** Bayes activates after this many of each class (SpamAssassin's defaults are 200). */
export const BAYES_TEST_CF = 'bayes_min_spam_num 2\nbayes_min_ham_num 2\nbayes_learn_to_journal 0';
