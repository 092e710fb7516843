// Start real daemons for tests on free loopback ports and stop them afterwards.
// Trusts the Debian packages installed by scripts/deps.mjs; talks only to 127.0.0.1.
export { freePort, waitForPort, spawnDaemon, tmpDir, type Daemon } from './process.ts';
export { startSpamd, type SpamdDaemon, type StartSpamdOptions } from './spamd.ts';
export { startRedis, startRedisCluster, startSentinels, type RedisCluster, type RedisServer, type RedisSentinels } from './redis.ts';
export { startRbldnsd, startUnbound, startBlackholeDns, unboundTestConfig, type RbldnsdServer, type RbldnsdZone, type RbldnsdDataSpec, type UnboundServer, type UnboundOptions, type BlackholeDns } from './dns.ts';
export { startPostfix, startSmtpSink, type PostfixInstance, type PostfixOptions, type SmtpSink } from './postfix.ts';
