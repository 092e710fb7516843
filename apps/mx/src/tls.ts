// STARTTLS settings: TLS 1.2+, forward-secret AEAD suites only, server preference, optional client cert.
// Trusts the key/cert files the admin names; generates a self-signed pair (with a warning) when none are named.
import { execFile } from 'node:child_process';
import { constants as cryptoConstants } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PeerCertificate, SecureVersion, TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import type { Logger } from '@moat/observe';
import type { MxView } from '@moat/config';

/**
 * ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 for TLS 1.2, and the TLS 1.3 suites (all AEAD
 * and forward-secret by design). No CBC, no static RSA, no DHE (no dhparam to manage).
 */
export const CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  /** True when we made the pair ourselves (self-signed). */
  generated: boolean;
}

export interface TlsServerOptions {
  key: Buffer;
  cert: Buffer;
  minVersion: SecureVersion;
  ciphers: string;
  honorCipherOrder: boolean;
  requestCert: boolean;
  rejectUnauthorized: boolean;
  secureOptions: number;
}

const exec = promisify(execFile);
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** The configured pair, or a self-signed one in `stateDir` (made on first start, reused after). */
export async function loadTlsMaterial(settings: MxView, logger: Logger): Promise<TlsMaterial> {
  const { certFile, keyFile, stateDir } = settings.tls;
  if (certFile && keyFile) {
    return { key: await readFile(keyFile), cert: await readFile(certFile), generated: false };
  }
  const key = join(stateDir, 'selfsigned.key');
  const cert = join(stateDir, 'selfsigned.crt');
  if (!((await exists(key)) && (await exists(cert)))) {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const name = settings.hostname.replace(/[^A-Za-z0-9.-]/g, '') || 'localhost';
    await exec(
      'openssl',
      [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '825',
        '-keyout', key, '-out', cert, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
      ],
      { timeout: 30_000 },
    );
    await chmod(key, 0o600);
    logger.warn({ event: 'tls-selfsigned', cert, key }, 'no TLS certificate configured: generated a self-signed pair; configure mx.tls.cert and mx.tls.key');
  } else {
    logger.warn({ event: 'tls-selfsigned', cert, key }, 'using the self-signed TLS pair generated earlier; configure mx.tls.cert and mx.tls.key');
  }
  return { key: await readFile(key), cert: await readFile(cert), generated: true };
}

export function tlsServerOptions(material: TlsMaterial, settings: MxView): TlsServerOptions {
  return {
    key: material.key,
    cert: material.cert,
    minVersion: settings.tls.minVersion,
    ciphers: CIPHERS,
    honorCipherOrder: true,
    // ask, never require, never reject: the certificate is only recorded (Postfix smtpd_tls_ask_ccert)
    requestCert: settings.tls.requestClientCert,
    rejectUnauthorized: false,
    // no TLS 1.2 renegotiation (client-initiated renegotiation is a CPU DoS, CVE-2011-1473; testssl rates it
    // MEDIUM); Postfix sets the same OpenSSL option since 3.4 (tls_ssl_options, SSL_OP_NO_RENEGOTIATION)
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
  };
}

export interface TlsSessionInfo {
  version: string;
  cipher: string;
  bits?: number | undefined;
  /** Subject CN of a client certificate, when one was asked for and sent. */
  clientCertSubject?: string | undefined;
  clientCertIssuer?: string | undefined;
  clientCertVerified?: boolean | undefined;
}

const clean = (s: unknown): string | undefined =>
  typeof s === 'string' ? s.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '?').slice(0, 200) : undefined;

/** What the Received header and the logs say about a TLS session. Certificate fields are untrusted text. */
export function describeTls(socket: TLSSocket): TlsSessionInfo {
  const cipher = socket.getCipher();
  const info: TlsSessionInfo = {
    version: socket.getProtocol() ?? cipher.version,
    cipher: cipher.standardName || cipher.name,
  };
  const bits = socket.getEphemeralKeyInfo?.();
  if (bits && typeof bits === 'object' && 'size' in bits) info.bits = bits.size;
  const peer = socket.getPeerCertificate?.() as PeerCertificate | Record<string, never> | null;
  if (peer && 'subject' in peer && peer.subject) {
    const cn = peer.subject.CN;
    info.clientCertSubject = clean(Array.isArray(cn) ? cn[0] : cn) ?? '';
    const icn = peer.issuer?.CN;
    info.clientCertIssuer = clean(Array.isArray(icn) ? icn[0] : icn);
    info.clientCertVerified = socket.authorized === true;
  }
  return info;
}
