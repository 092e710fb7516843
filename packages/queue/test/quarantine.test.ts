// The quarantine on a real spool with a real runner and maildir: a held message is never delivered, is listed
// with its hold record, shows safely, is released into delivery or deleted (with learning), expires after
// retention (test clock), and a held file that fails its checksum goes to corrupt/ instead of being released.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { expect, it } from 'vitest';
import { type Learner, maildirTransport, openQuarantine, openQueue, queueList, startDelivery } from '../src/index.ts';
import { fakeClock, memoryLogger, message } from './helpers.ts';
import { HOST_TAG } from '../src/tmp-files.ts';

async function setup() {
  const dir = await tmpDir('quarantine');
  const spool = join(dir.path, 'spool');
  const root = join(dir.path, 'mail');
  const clock = fakeClock(Date.now());
  const registry = createRegistry();
  const mem = memoryLogger();
  const queue = await openQueue({ dir: spool, clock, logger: mem.logger, registry, node: 'mx-test' });
  const runner = await startDelivery({ queue, registry, clock, transports: { local: maildirTransport({ root, hostname: 'mx.test' }) } });
  const learned: Array<{ as: string; subject: string }> = [];
  const learner: Learner = async (m, as) => {
    learned.push({ as, subject: /Subject: (.*)\r\n/.exec(m.toString())?.[1] ?? '?' });
  };
  const q = openQuarantine({ dir: spool, clock, logger: mem.logger, registry, learner, retentionMs: 30 * 86_400_000 });
  const box = join(root, 'example.test', 'bob', 'new');
  const delivered = async () => (await readdir(box).catch(() => [] as string[])).length;
  return { spool, clock, registry, mem, queue, runner, q, learned, delivered };
}

const hold = { check: 'dmarc', reason: 'p=quarantine for sender.test', score: 6.5 };

it('a held message is never delivered until released; release delivers it and can learn it as ham', async () => {
  const t = await setup();
  try {
    const { id } = await t.queue.enqueue({ sender: 'alice@sender.test', recipients: ['bob@example.test'], message: message('held one', 'body'), hold });
    const normal = await t.queue.enqueue({ sender: 'alice@sender.test', recipients: ['bob@example.test'], message: message('normal', 'body') });
    t.runner.kick(true);
    await t.runner.idle();
    expect(await t.delivered()).toBe(1); // only the normal one
    expect((await queueList(t.spool)).map((e) => [e.id, e.state])).toEqual([[id, 'hold']]);
    void normal;

    const list = await t.q.list();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id, subject: 'held one', sender: 'alice@sender.test', recipients: ['bob@example.test'], hold: { ...hold, node: 'mx-test', time: t.clock.t } });
    expect(list[0]!.expires).toBe(t.clock.t + 30 * 86_400_000);
    const shown = await t.q.show(id);
    expect(shown.preview.text).toBe('body\n');
    expect(shown.preview.headers).toContainEqual({ name: 'Subject', value: 'held one' });

    t.clock.advance(20 * 86_400_000); // older than max_lifetime (7 d): the release restarts its queue life
    const r = await t.q.release(id, { by: 'admin', learn: true });
    expect(r).toEqual({ id, action: 'released', learned: 'ham' });
    expect(t.learned).toEqual([{ as: 'ham', subject: 'held one' }]);
    t.runner.kick(true);
    await t.runner.idle();
    expect(await t.delivered()).toBe(2);
    expect(await t.q.list()).toEqual([]);
    await expect(t.q.release(id, { by: 'admin' })).rejects.toMatchObject({ code: 'EQUEUE_NOTFOUND' });
    const line = t.mem.lines.find((l) => l.event === 'quarantine-release');
    expect(line).toMatchObject({ queueId: id, by: 'admin', check: 'dmarc' });
    expect(await t.registry.getSingleMetric('moat_quarantine_actions_total')?.get()).toMatchObject({ values: [{ labels: { action: 'release', result: 'ok' }, value: 1 }] });
  } finally {
    await t.runner.stop();
  }
});

it('delete removes it (learning it as spam first); expire removes what is past retention', async () => {
  const t = await setup();
  try {
    const a = await t.queue.enqueue({ sender: 'x@sender.test', recipients: ['bob@example.test'], message: message('spam a', 'buy'), hold });
    t.clock.advance(10 * 86_400_000);
    const b = await t.queue.enqueue({ sender: 'x@sender.test', recipients: ['bob@example.test'], message: message('spam b', 'buy'), hold });
    const c = await t.queue.enqueue({ sender: 'x@sender.test', recipients: ['bob@example.test'], message: message('spam c', 'buy'), hold });
    await expect(t.q.delete(b.id, { by: '' })).rejects.toMatchObject({ code: 'EQUEUE_INVAL' });
    expect(await t.q.delete(b.id, { by: 'ops', learn: true })).toEqual({ id: b.id, action: 'deleted', learned: 'spam' });
    expect(t.learned).toEqual([{ as: 'spam', subject: 'spam b' }]);
    expect(t.mem.lines.find((l) => l.event === 'quarantine-delete')).toMatchObject({ queueId: b.id, by: 'ops' });

    t.clock.advance(20 * 86_400_000); // a: 30 days held; c: 20
    expect(await t.q.expire()).toEqual([a.id]);
    expect((await t.q.list()).map((e) => e.id)).toEqual([c.id]);
    t.clock.advance(10 * 86_400_000);
    expect(await t.q.expire()).toEqual([c.id]);
    expect(await t.q.list()).toEqual([]);
    t.runner.kick(true);
    await t.runner.idle();
    expect(await t.delivered()).toBe(0);
    expect(t.mem.lines.filter((l) => l.event === 'quarantine-expire').map((l) => l.by)).toEqual(['retention', 'retention']);
  } finally {
    await t.runner.stop();
  }
});

it('a failed learning keeps a message the admin wanted deleted; a release stands and reports it', async () => {
  const t = await setup();
  const q = openQuarantine({ dir: t.spool, clock: t.clock, logger: t.mem.logger, registry: t.registry, learner: async () => { throw new Error('spamd down'); } });
  try {
    const a = await t.queue.enqueue({ sender: 'x@sender.test', recipients: ['bob@example.test'], message: message('a', 'x'), hold });
    await expect(q.delete(a.id, { by: 'ops', learn: true })).rejects.toThrow(/learning as spam failed, not deleted: spamd down/);
    expect((await q.list()).map((e) => e.id)).toEqual([a.id]);
    expect(await q.release(a.id, { by: 'ops', learn: true })).toEqual({ id: a.id, action: 'released', learnError: 'spamd down' });
    const noLearner = openQuarantine({ dir: t.spool, logger: t.mem.logger, registry: t.registry });
    await expect(noLearner.release(a.id, { by: 'ops', learn: true })).rejects.toThrow(/no learner/);
  } finally {
    await t.runner.stop();
  }
});

it('a held file that fails its checksum goes to corrupt/, is counted and logged, and is never released', async () => {
  const t = await setup();
  try {
    const { id } = await t.queue.enqueue({ sender: 'x@sender.test', recipients: ['bob@example.test'], message: message('tampered', 'original body'), hold });
    const path = join(t.spool, 'hold', id);
    const buf = await readFile(path);
    await writeFile(path, Buffer.from(buf.toString('latin1').replace('original body', 'ORIGINAL body'), 'latin1'));
    expect((await t.q.list()).map((e) => e.id)).toEqual([id]); // still listed (the list reads envelopes only)
    await expect(t.q.release(id, { by: 'admin' })).rejects.toMatchObject({ code: 'EQUEUE_CORRUPT', message: expect.stringMatching(/failed its checksum.*moved to corrupt\/.*not released/) });
    expect(await readdir(join(t.spool, 'hold'))).toEqual([]);
    expect((await readdir(join(t.spool, 'corrupt'))).map((n) => n.split('.')[0])).toEqual([id]);
    expect(await readdir(join(t.spool, 'incoming'))).toEqual([]);
    expect((await t.registry.getSingleMetric('moat_quarantine_corrupt_total')?.get())?.values[0]?.value).toBe(1);
    expect(t.mem.lines.find((l) => l.event === 'quarantine-corrupt')).toMatchObject({ queueId: id, action: 'release', by: 'admin', reason: 'checksum mismatch' });
    t.runner.kick(true);
    await t.runner.idle();
    expect(await t.delivered()).toBe(0);
    // a damaged envelope is listed as damaged, not hidden; ids are checked before use as file names
    await writeFile(join(t.spool, 'hold', 'ZZZZZZZZZZZZZZZZZZZ'), 'MOATQ1 9999999\ngarbage');
    expect(await t.q.list()).toEqual([{ id: 'ZZZZZZZZZZZZZZZZZZZ', size: 22, recipients: [], damaged: true }]);
    await expect(t.q.show('../tmp/x')).rejects.toMatchObject({ code: 'EQUEUE_INVAL' });
  } finally {
    await t.runner.stop();
  }
});

it('a hold arrives through a draft (the gateway\'s way) into hold/ as well', async () => {
  const t = await setup();
  try {
    const bytes = message('via draft', 'drafted body');
    const draft = await t.queue.draft();
    await draft.append(bytes);
    await draft.flushed();
    const skip = bytes.indexOf('\r\n\r\n') + 2;
    const { id } = await t.queue.enqueue({ sender: 'x@sender.test', recipients: ['bob@example.test'], message: draft.message(bytes.subarray(0, skip), skip), prepend: ['X-Test: 1'], hold });
    await draft.discard();
    expect(await readdir(join(t.spool, 'hold'))).toEqual([id]);
    expect(await readdir(join(t.spool, 'incoming'))).toEqual([]);
    const shown = await t.q.show(id);
    expect(shown.preview.headers[0]).toEqual({ name: 'X-Test', value: '1' });
    expect(shown.preview.text).toBe('drafted body\n');
  } finally {
    await t.runner.stop();
  }
});

it("the queue's own hold/release/delete leave quarantined mail to the quarantine; a released one never expires", async () => {
  const t = await setup();
  try {
    const q1 = await t.queue.enqueue({ sender: 'x@sender.test', recipients: ['bob@example.test'], message: message('held', 'buy'), hold });
    const plain = await t.queue.enqueue({ sender: 'y@sender.test', recipients: ['bob@example.test'], message: message('operator hold', 'hi') });
    expect(await t.queue.hold([plain.id])).toEqual([plain.id]);
    // `moat queue release ALL` / `delete ALL` (Postfix's postsuper -H / -d ALL): the operator's hold only
    expect(await t.queue.release([q1.id, plain.id])).toEqual([plain.id]);
    expect(await t.queue.delete([q1.id])).toEqual([]);
    expect(t.mem.lines.filter((l) => l.event === 'quarantined-skipped').map((l) => l.queueId)).toEqual([q1.id, q1.id]);
    expect((await t.q.list()).map((e) => e.id)).toEqual([q1.id]);
    // a release stamped but not moved (a crash between the two) is release pending: never dropped for age
    const file = join(t.spool, 'hold', q1.id);
    const pending = await t.queue.enqueue({ sender: 'z@sender.test', recipients: ['bob@example.test'], message: message('pending', 'x'), hold });
    await t.q.release(pending.id, { by: 'ops' });
    expect(await t.queue.hold([pending.id])).toEqual([pending.id]); // an operator holds the released message again
    t.clock.advance(40 * 86_400_000);
    expect(await t.q.expire()).toEqual([q1.id]);
    expect((await t.q.list()).map((e) => [e.id, e.releasePending === true])).toEqual([[pending.id, true]]);
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
  } finally {
    await t.runner.stop();
  }
});

it('a lock left by a crash is taken over, also when a restarted process got the same pid', async () => {
  const t = await setup();
  try {
    const m = await t.queue.enqueue({ sender: 'x@sender.test', recipients: ['bob@example.test'], message: message('locked', 'x'), hold });
    // what a killed action of "this" host leaves when the restarted mx got the dead one's pid: this process's own
    await writeFile(join(t.spool, 'hold', `.${m.id}.lock`), `${HOST_TAG} ${process.pid}\n`);
    expect(await t.q.release(m.id, { by: 'ops' })).toMatchObject({ id: m.id, action: 'released' });
  } finally {
    await t.runner.stop();
  }
});
