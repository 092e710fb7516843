// Entry of the delivery thread (bundled on its own as dist/delivery.worker.js): the queue package's runner,
// wired with the outbound TLS policy and the daily TLS-RPT send. Loads no config code: the SMTP thread hands
// it validated plain data.
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';
import type { Config, RedisView } from '@moat/config';
import type { DeliveryWorkerData } from '@moat/queue';
import { runDeliveryThread } from '@moat/queue/delivery-worker';
import { connectRedis } from '@moat/redis';
import { clusterOutcomes, fileStsStore, nextHopTls, outboundTls, outcomeRecorder, wireResolver } from '@moat/tlspolicy';
import { startMemoryUpkeep } from './memory-upkeep.ts';
import { redisDayLock, startTlsReportTimer, tlsReportDuties } from './tls-report-timer.ts';

/** The thread's TLS settings: queue.tls, and for the daily report the Redis of the lock and our name. */
export interface DeliveryTls {
  queue: Config['queue']['tls'];
  /** `views.redis(config)`, computed on the SMTP thread (plain data: the thread loads no config code). */
  redis: RedisView;
  policyHostname: string;
  /** The reports' From (@moat/config tlsReportFrom): one a queue.dkim key signs, when one does. */
  reportFrom?: string | undefined;
}

runDeliveryThread(workerData as DeliveryWorkerData<DeliveryTls>, {
  // this thread's heap, given back once it has gone quiet after a load (as the SMTP thread's): never while a
  // delivery or a spool write is in flight
  upkeep: ({ logger, registry, busy }) => startMemoryUpkeep({
      logger,
      registry,
      thread: 'delivery',
      metricName: 'moat_mx_delivery_heap_shrinks_total',
      heapGauge: 'moat_mx_delivery_heap_bytes',
      busy,
    }),
  // MTA-STS, DANE and the security levels for MX deliveries (docs/tls.md): through the same validating resolver
  tlsPolicy({ queue: tls }, { registry, logger, queueDir, resolver }) {
    if (!tlsReportDuties(tls).record) return undefined;
    const tlsLogger = logger.child({ component: 'tls-policy' });
    return outboundTls({
      // answers kept for their TTLs: MX, _mta-sts TXT, address and TLSA questions are the same for every message
      // to a domain (the sts-source keeps the fetched policy itself within its max_age)
      resolver: wireResolver([resolver], { timeoutMs: tls.lookup_timeout, cacheEntries: 4096 }),
      level: tls.security_level,
      policies: tls.policies,
      dane: tls.dane,
      mtaSts: tls.mta_sts,
      stsTimeoutMs: tls.fetch_timeout,
      // policies outlive a restart (RFC 8461 5.1): one fsynced file per domain in the spool, per node
      stsStore: fileStsStore(join(queueDir, 'mta-sts'), tlsLogger),
      outcomes: outcomeRecorder({ registry, dir: tls.report_dir ?? join(queueDir, 'tlsrpt'), logger: tlsLogger }),
      logger: tlsLogger,
    });
  },
  // relayhost, `smtp:[host]:port` and LMTP next hops: smtp_tls_security_level / smtp_tls_policy_maps [host] keys, lmtp_tls_*
  hopTls({ queue: tls }) {
    return nextHopTls({ smtp: { level: tls.security_level, policies: tls.policies }, lmtp: { level: tls.lmtp.security_level, policies: tls.lmtp.policies } });
  },
  // TLS-RPT: every node that records outcomes pushes its counts to the shared Redis (non-sending nodes too); the
  // daily send (queue.tls.report_send) queues reports through this thread's queue like any outbound mail
  services({ queue: tls, redis, policyHostname, reportFrom }, { registry, logger, queueDir, resolver, hostname, enqueue }) {
    const duties = tlsReportDuties(tls);
    if (!duties.push) return undefined;
    const lockRedis = connectRedis(redis, { connectionName: 'moat-mx-tlsrpt', connectTimeoutMs: 5000 });
    lockRedis.on('error', () => undefined); // a run that cannot take the lock logs and retries (tls-report-timer.ts)
    const dir = tls.report_dir ?? join(queueDir, 'tlsrpt');
    // every node pushes its counts to the shared Redis; the node that sends a day reports them all (docs/tls.md)
    const cluster = clusterOutcomes({ dir, redis: lockRedis, logger: logger.child({ component: 'tlsrpt' }), registry });
    const pushing = cluster.start(60_000);
    const dns = wireResolver([resolver], { timeoutMs: tls.lookup_timeout });
    const timer = duties.send
      ? startTlsReportTimer({
          at: tls.report_time,
          dir,
          read: (day) => cluster.read(day),
          hostname,
          from: reportFrom,
          organization: tls.report_organization ?? policyHostname,
          contact: tls.report_contact ?? `mailto:postmaster@${policyHostname}`,
          txt: async (name) => (await dns.txt(name)).records,
          enqueue,
          lock: redisDayLock(lockRedis, hostname),
          logger: logger.child({ component: 'tlsrpt' }),
          registry,
        })
      : undefined;
    return {
      stop() {
        timer?.stop();
        pushing.stop();
        // best effort: today's last sessions reach the cluster now, not at this node's next start
        void cluster
          .push(new Date().toISOString().slice(0, 10))
          .catch(() => undefined)
          .finally(() => lockRedis.disconnect());
      },
    };
  },
}).catch((e) => {
  console.error(`mx delivery thread: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
