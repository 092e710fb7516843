// `moat explain`'s address resolution block: a recipient's class, its rewrites, and each final recipient's next hop.
// Trusts the explanation runtime built from the resolver; every address in it is client input, printed through safe().
import type { AddressExplanation } from '@moat/runtime';
import { safe, table } from './args.ts';

/**
 * The resolution as text, under the restriction trace: what happens to the recipient once the
 * restrictions accept it (or why the resolver refuses it). `label` says which config resolved it.
 */
export function formatResolution(e: AddressExplanation, label = 'address resolution'): string {
  const out = [`${label} of <${safe(e.address)}>: class ${e.class}`];
  for (const s of e.steps.slice(1)) out.push(`  ${safe(s)}`);
  if (e.refused) {
    const what = e.refused.reason === 'lookup-failure' ? 'deferred' : 'refused';
    out.push(`  => ${what}: ${e.refused.status} ${safe(e.refused.text)} (${e.refused.reason})`);
    return out.join('\n');
  }
  const rows = [['recipient', 'class', 'extension', 'next hop']];
  for (const r of e.recipients) rows.push([`<${safe(r.address)}>`, r.class, r.extension === undefined ? '-' : safe(r.extension), safe(r.nextHop)]);
  out.push(
    table(rows)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  );
  return out.join('\n');
}
