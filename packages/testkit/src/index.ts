// Start real daemons for tests on free loopback ports and stop them afterwards; a raw SMTP client to drive them.
// Trusts the Debian packages installed by scripts/deps.mjs; talks only to 127.0.0.1.
export { freePort, processAlive, waitForPort, spawnDaemon, tmpDir, type Daemon } from './process.ts';
export { GTUBE, startSpamd, type SpamdDaemon, type StartSpamdOptions } from './spamd.ts';
export { startRedis, startRedisCluster, startSentinels, type RedisCluster, type RedisServer, type RedisSentinels, type SentinelAuth } from './redis.ts';
export { startRbldnsd, startUnbound, startBlackholeDns, unboundTestConfig, type RbldnsdServer, type RbldnsdZone, type RbldnsdDataSpec, type UnboundServer, type UnboundOptions, type BlackholeDns } from './dns.ts';
export { signZone, startNsd, type NsdServer, type SignedZone } from './dnssec.ts';
export { createTestCa, selfSignedCert, type TestCa, type TestCert } from './certs.ts';
export { startPebble, type PebbleServer } from './pebble.ts';
export { startPostfix, startSmtpSink, type PostfixInstance, type PostfixOptions, type SmtpSink } from './postfix.ts';
export { SmtpClient, authPlain, smtpTransaction, type SmtpReply, type SmtpConnectOptions, type SmtpOutcome, type SmtpTransactionOptions } from './smtp-client.ts';
export { startDnsInternet, type Delegation, type DnsInternet, type DnsInternetOptions } from './dns-internet.ts';
export { startPrometheus, type PrometheusServer, type PromSample } from './prometheus.ts';
export { freshSender, freshTag, mailstore, MAILSTORE_DIR, REDIS_CLI, taggedMessage, type ExecInMailstore, type Mailstore, type TaggedMessage, type WaitDeliveredOptions } from './tagged-mail.ts';
export { productionUnboundConfig, startProductionUnbound, type ProductionUnbound } from './production-unbound.ts';
