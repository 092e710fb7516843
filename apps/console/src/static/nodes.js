// The dashboard's node table: each metrics endpoint is one node: is it under stress (mx), did its last config
// reload take, is its ACME certificate renewing (a failing renewal or a near expiry is a warning the admin must see)?
import { $, el, fill, kinds, row } from './dom.js';

export function nodes(sources) {
  fill(
    $('node-table').tBodies[0],
    sources.map((src) => {
      const st = src.state || {};
      const stress = st.stress
        ? st.stress.on.length
          ? el('span', `STRESS on ${st.stress.on.join(', ')}: short timeouts, tighter per-address limit`, 'stress on')
          : el('span', `normal (${st.stress.switches} switch(es) since start)`, 'stress off')
        : '-';
      let reload = '-';
      if (st.reload) {
        const counts = kinds(st.reload.outcomes);
        reload =
          st.reload.lastOk === false
            ? el('span', `FAILED: old config still in force (${counts})`, 'reload bad')
            : el('span', `${st.reload.lastOk === true ? 'ok' : 'unknown'} (${counts})`, 'reload ok');
      }
      const c = st.certificate;
      const cert = !c
        ? '-'
        : c.warning
          ? el('span', c.warning, 'cert bad')
          : el('span', c.expiryDays === undefined ? 'ACME: no certificate yet' : `ACME ok, expires in ${Math.floor(c.expiryDays)} days`, 'cert ok');
      const r = row([el('code', src.url), el('span', src.ok ? 'yes' : `no: ${src.error}`, src.ok ? 'state healthy' : 'state unreachable'), stress, reload, cert]);
      if (st.stress?.on.length) r.className = 'stressed';
      else if (c?.warning) r.className = 'cert-warning';
      return r;
    }),
    'no metrics endpoint configured (MOAT_CONSOLE_METRICS)',
    5,
  );
}
