import { gunzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { buildTlsReports } from './report.ts';
import { tlsReportMessage } from './report-mail.ts';

it('wraps a report as RFC 8460 5.3 says: multipart/report, tlsrpt+gzip attachment, the two TLS-Report headers', () => {
  const reports = buildTlsReports({ day: '2026-12-01', outcomes: [{ policyDomain: 'example.net', policyType: 'sts', result: 'success' }], organization: 'mx.example.org', contact: 'mailto:p@example.org' });
  const report = reports.get('example.net')!;
  const msg = tlsReportMessage(report, { domain: 'example.net', from: 'postmaster@mx.example.org', to: 'tls@example.net', submitter: 'mx.example.org' }).toString();
  expect(msg).toMatch(/^TLS-Report-Domain: example\.net\r$/m);
  expect(msg).toMatch(/^TLS-Report-Submitter: mx\.example\.org\r$/m);
  expect(msg).toMatch(/^Content-Type: multipart\/report; report-type="tlsrpt"; boundary="/m);
  expect(msg).toMatch(/filename="mx\.example\.org!example\.net!1796083200!1796169599\.json\.gz"/);
  const b64 = /Content-Disposition: [^\r]*\r\n\r\n([A-Za-z0-9+/=\r\n]+)\r\n--/.exec(msg)![1]!.replace(/\r\n/g, '');
  expect(JSON.parse(gunzipSync(Buffer.from(b64, 'base64')).toString())).toEqual(report);
  expect(msg.split('\r\n').every((l) => l.length <= 998)).toBe(true);
});
