// Logging and metrics shared by every moat component: one pino root logger, one prom-client registry.
// Trusts nothing it is given to log: untrusted strings go under their own keys, never into `msg`.
export { createLogger, infoLine, type Logger } from './logger.ts';
export { type BufferedOut, bufferedStdout, cutPoints, PIPE_BUF } from './log-buffer.ts';
export { createRegistry, defaultRegistry, type Registry, Counter, Gauge, Histogram } from './metrics.ts';
export { metricOnce } from './metric-once.ts';
export { type HotCounter, hotCounter } from './hot-counter.ts';
export { RELOAD_HEADER, serveMetrics } from './serve.ts';
export { BY_HEADER, QUARANTINE_HEADER, type QuarantineRoutes } from './quarantine-routes.ts';
export {
  type MergedList,
  type NodeFailure,
  quarantineClient,
  type QuarantineClient,
  QuarantineRemoteError,
  type QuarantineTarget,
} from './quarantine-client.ts';
