// The RFC 8460 5.3 report message: a multipart/report (report-type=tlsrpt) with the JSON report gzipped.
// Pure: builds bytes from a report we made; the rua address came from DNS and is only put in To:.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { TlsReport } from './report.ts';

export function tlsReportMessage(report: TlsReport, o: { domain: string; from: string; to: string; submitter: string; date?: Date }): Buffer {
  const boundary = `tlsrpt-${randomBytes(8).toString('hex')}`;
  const start = report['date-range']['start-datetime'];
  const end = report['date-range']['end-datetime'];
  const filename = `${o.submitter}!${o.domain}!${Date.parse(start) / 1000}!${Date.parse(end) / 1000}.json.gz`;
  const gz = gzipSync(Buffer.from(JSON.stringify(report))).toString('base64').replace(/.{1,76}/g, '$&\r\n');
  const lines = [
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Date: ${(o.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
    `Subject: Report Domain: ${o.domain} Submitter: ${o.submitter} Report-ID: <${report['report-id']}>`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${o.submitter}>`,
    `TLS-Report-Domain: ${o.domain}`,
    `TLS-Report-Submitter: ${o.submitter}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `The TLS report of ${o.submitter} for ${o.domain}, ${start} to ${end} (RFC 8460).`,
    '',
    `--${boundary}`,
    'Content-Type: application/tlsrpt+gzip',
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${filename}"`,
    '',
    gz.trimEnd(),
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}
