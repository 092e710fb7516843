// The `metrics:` section: where Prometheus scrapes moat. Loopback by default (no auth on it).
import { z } from 'zod';
import { listenAddress } from './common.ts';

export const metricsSection = z.strictObject({
  enabled: z.boolean().default(true),
  listen: listenAddress.default('127.0.0.1:9465'),
});

export type MetricsSection = z.infer<typeof metricsSection>;
