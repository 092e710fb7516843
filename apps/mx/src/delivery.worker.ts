// Entry of the delivery thread (bundled on its own as dist/delivery.worker.js): the queue package's runner,
// wired with the outbound TLS policy. Loads no config code: the SMTP thread hands it validated plain data.
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';
import type { Config } from '@moat/config';
import type { DeliveryWorkerData } from '@moat/queue';
import { runDeliveryThread } from '@moat/queue/delivery-worker';
import { outboundTls, outcomeRecorder, wireResolver } from '@moat/tlspolicy';

export type DeliveryTls = Config['queue']['tls'];

runDeliveryThread(workerData as DeliveryWorkerData<DeliveryTls>, {
  // MTA-STS and DANE for MX deliveries (docs/tls.md): through the same validating resolver
  tlsPolicy(tls, { registry, logger, queueDir, resolver }) {
    if (!tls.dane && !tls.mta_sts) return undefined;
    const tlsLogger = logger.child({ component: 'tls-policy' });
    return outboundTls({
      resolver: wireResolver([resolver], { timeoutMs: tls.lookup_timeout }),
      dane: tls.dane,
      mtaSts: tls.mta_sts,
      stsTimeoutMs: tls.fetch_timeout,
      outcomes: outcomeRecorder({ registry, dir: tls.report_dir ?? join(queueDir, 'tlsrpt'), logger: tlsLogger }),
      logger: tlsLogger,
    });
  },
}).catch((e) => {
  console.error(`mx delivery thread: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
