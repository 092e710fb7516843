// Quarantine lock race child: on "go <id> <at ms>" it takes held message <id>'s lock at that wall-clock moment
// (so all children try at once), printing "won <id>" and holding it until "release <id>", then "done <id>";
// "busy <id>" when another holds it; "err <id> <message>" on anything else.
import { createInterface } from 'node:readline';
import { QueueErrorCodes } from '../src/errors.ts';
import { createLocks } from '../src/quarantine/lock.ts';

const [dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: quarantine-lock-child.ts <spool dir>');
const locks = createLocks(dir);
const releases = new Map<string, () => void>();
const say = (s: string) => process.stdout.write(`${s}\n`);
say('ready');

createInterface({ input: process.stdin }).on('line', (line) => {
  const [verb, id = '', at = '0'] = line.trim().split(' ');
  if (verb === 'release') return releases.get(id)?.();
  if (verb !== 'go') return;
  setTimeout(
    () => {
      locks
        .withLock(id, () => {
          say(`won ${id}`);
          return new Promise<void>((r) => releases.set(id, r));
        })
        .then(
          () => say(`done ${id}`),
          (e: { code?: string; message?: string }) => say(e.code === QueueErrorCodes.EBUSY ? `busy ${id}` : `err ${id} ${e.message}`),
        );
    },
    Math.max(0, Number(at) - Date.now()),
  );
});
