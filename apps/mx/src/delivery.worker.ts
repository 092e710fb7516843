// Entry of the delivery thread (bundled on its own as dist/delivery.worker.js, so the thread does not
// load the SMTP side's code). Talks to the spool directory and the next hops.
import { workerData } from 'node:worker_threads';
import { type DeliveryWorkerData, runDeliveryThread } from './delivery-worker.ts';

runDeliveryThread(workerData as DeliveryWorkerData).catch((e) => {
  console.error(`mx delivery thread: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
