import { describe, expect, it } from 'vitest';
import { tlsReportDuties } from './tls-report-timer.ts';

describe('tlsReportDuties', () => {
  const base = { dane: false, mta_sts: false, security_level: 'may', policies: {} };
  it('a node that records outcomes pushes its counts even when another node sends the reports', () => {
    expect(tlsReportDuties({ ...base, mta_sts: true, report_send: false })).toEqual({ record: true, push: true, send: false });
    expect(tlsReportDuties({ ...base, dane: true })).toEqual({ record: true, push: true, send: false });
    expect(tlsReportDuties({ ...base, security_level: 'encrypt' })).toMatchObject({ record: true, push: true });
    expect(tlsReportDuties({ ...base, policies: { 'example.net': 'verify' } })).toMatchObject({ record: true, push: true });
  });
  it('the sending node pushes and reads the cluster; a node with neither does nothing', () => {
    expect(tlsReportDuties({ ...base, mta_sts: true, report_contact: 'mailto:x@example.org' })).toEqual({ record: true, push: true, send: true });
    expect(tlsReportDuties({ ...base, report_send: true })).toEqual({ record: false, push: true, send: true });
    expect(tlsReportDuties(base)).toEqual({ record: false, push: false, send: false });
  });
});
