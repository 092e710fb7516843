// The quarantine's cluster view: a message held at mx2 (its sender domain's DMARC p=quarantine, served by
// the test Unbound) is listed and shown (headers, a text preview) by `moat quarantine` run on another node,
// released from a third (the holder delivers it, once), and a deletion with --learn-spam is logged with who.
import { smtpTransaction } from '@moat/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { cluster, freshTag, logsUntil, mailstoreTags, moatCli, type MxNode, portOf, waitDelivered, waitHealthy, WL2_CLIENT } from './cluster.ts';

beforeAll(() => waitHealthy());

const DOMAIN = 'dmarc-quarantine.example';

interface Row {
  node: string;
  id: string;
  sender?: string;
  subject?: string;
  hold?: { check?: string; node?: string };
}

/** Sends a DMARC-failing message at a node (a whitelisted client: no greylisting); the 250 means held, not delivered. */
async function holdAt(node: MxNode, tag: string): Promise<void> {
  const from = `news@${DOMAIN}`;
  const r = await smtpTransaction({
    port: portOf(node),
    xclient: `ADDR=${WL2_CLIENT} NAME=[UNAVAILABLE]`,
    xclientHelo: 'e2e-cluster.moat.test',
    helo: 'mail.sender.example',
    from,
    to: `alice@${cluster().domain}`,
    message: [
      `From: <${from}>`,
      `To: <alice@${cluster().domain}>`,
      `Subject: held ${tag}`,
      `Message-ID: <${tag}@e2e-cluster.moat.test>`,
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
      `X-Moat-Tag: ${tag}`,
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=us-ascii',
      '',
      `<p>Preview line ${tag}</p><img src="http://tracker.example/pixel.gif">`,
      '',
    ].join('\r\n'),
  });
  expect(r.code, JSON.stringify(r)).toBe(250);
}

/** `moat quarantine list --json` inside a node: every node's rows (MOAT_RELOAD_TARGETS and the generated token). */
async function listFrom(node: MxNode): Promise<Row[]> {
  const out = await moatCli(node, 'quarantine', 'list', '--json', '--config', '/etc/moat/conf/moat.yaml');
  return (JSON.parse(out) as { rows: Row[] }).rows;
}

async function heldRow(node: MxNode, tag: string): Promise<Row> {
  for (const t = Date.now(); ; await new Promise((r) => setTimeout(r, 500))) {
    const row = (await listFrom(node)).find((r) => r.subject === `held ${tag}`);
    if (row) return row;
    if (Date.now() - t > 30_000) throw new Error(`${tag} is not in the quarantine as ${node} lists it`);
  }
}

describe('the quarantine of the whole cluster', () => {
  it('held at mx2, listed and shown from mx1, released from mx3: delivered once by the holder', async () => {
    const since = new Date();
    const tag = freshTag('quar-release');
    await holdAt('mx2', tag);
    const row = await heldRow('mx1', tag);
    expect(row).toMatchObject({ node: 'mx2', sender: `news@${DOMAIN}`, hold: { check: expect.stringMatching(/dmarc/i) } });
    // held, not delivered
    expect((await mailstoreTags()).get(tag)).toBeUndefined();

    // shown from mx3: headers and the HTML part as plain text, nothing fetched or rendered
    const shown = await moatCli('mx3', 'quarantine', 'show', row.id, '--config', '/etc/moat/conf/moat.yaml');
    expect(shown).toMatch(/^node: +mx2$/m);
    expect(shown).toContain(`Subject: held ${tag}`);
    expect(shown).toContain(`Preview line ${tag}`);
    expect(shown).not.toContain('<p>');

    // released from mx3: the request goes to mx2, which delivers it through the normal route, once
    const released = await moatCli('mx3', 'quarantine', 'release', row.id, '--by', 'e2e-releaser', '--config', '/etc/moat/conf/moat.yaml');
    expect(released).toContain(`released ${row.id} on mx2`);
    const counts = await waitDelivered([tag]);
    expect(counts.get(tag)).toBe(1);
    expect((await listFrom('mx1')).some((r) => r.id === row.id)).toBe(false);
    const releaseLine = new RegExp(`"event":"quarantine-release"[^\\n]*"queueId":"${row.id}"[^\\n]*"by":"[^"]*e2e-releaser`);
    const logs = (await logsUntil('mx2', since, (ls) => releaseLine.test(ls.join('\n')))).join('\n');
    expect(logs).toMatch(releaseLine);
  });

  it('deleted with --learn-spam from mx1: gone, learned, and logged at the holder with who', async () => {
    const since = new Date();
    const tag = freshTag('quar-delete');
    await holdAt('mx2', tag);
    const row = await heldRow('mx3', tag);
    const out = await moatCli('mx1', 'quarantine', 'delete', row.id, '--learn-spam', '--by', 'e2e-deleter', '--config', '/etc/moat/conf/moat.yaml');
    expect(out).toContain(`deleted ${row.id} on mx2 (learned as spam)`);
    expect((await listFrom('mx2')).some((r) => r.id === row.id)).toBe(false);
    const logs = (await logsUntil('mx2', since, (ls) => /"event":"quarantine-delete"[^\n]*"by":"[^"]*e2e-deleter/.test(ls.join('\n')))).join('\n');
    expect(logs).toMatch(/"event":"quarantine-learn"[^\n]*"by":"[^"]*e2e-deleter/);
    expect(logs).toMatch(/"event":"quarantine-delete"[^\n]*"by":"[^"]*e2e-deleter/);
    expect((await mailstoreTags()).get(tag)).toBeUndefined();
  });
});
