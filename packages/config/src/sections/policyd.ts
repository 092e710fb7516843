// The `policyd:` section: the Postfix check_policy_service server running the same engine.
// Listens on loopback by default: Postfix on the same host is its only intended client.
import { z } from 'zod';
import { duration, listenAddress, network } from './common.ts';

/** A Postfix access(5) action policyd may answer with on its own (overload, engine failure). */
const postfixAction = z
  .string()
  .max(200)
  .regex(/^(?:DUNNO|OK|DEFER_IF_PERMIT(?: [^\r\n]*)?|DEFER(?: [^\r\n]*)?|REJECT(?: [^\r\n]*)?|4\d\d [^\r\n]+|5\d\d [^\r\n]+)$/, 'expected a Postfix action: DUNNO, OK, DEFER_IF_PERMIT text, DEFER text, 4NN text or 5NN text');

/** Postfix writes lists as text (`192.0.2.0/24 [::1]/128`); accept that as well as a YAML list. */
const networks = z.preprocess((v) => (typeof v === 'string' ? v.split(/[\s,]+/).filter((x) => x !== '') : v), z.array(network));

export const policydSection = z.strictObject({
  /** Read by nothing: policyd runs when it is started. Accepted so older files load; `moat config check` names it. */
  enabled: z.boolean().default(false),
  listen: listenAddress.default('127.0.0.1:10023'),
  /**
   * The only networks whose connections policyd serves (its Postfix hosts); any other connection is closed
   * at once, counted and logged, before a byte is read, so no stranger can move greylist state. Unset: the
   * policy's mynetworks. The container healthcheck connects from 127.0.0.1: keep loopback in the list.
   */
  clients: networks.optional(),
  /**
   * Close a Postfix connection idle this long. Postfix reuses its policy connection and closes it
   * itself after smtpd_policy_service_max_idle (300 s); above that, Postfix is always the one to close.
   */
  idle_timeout: duration.default(330_000),
  /**
   * Beyond this many connections a new one gets one `overload_action` answer and is closed. A limit for
   * the whole service: with `workers` > 1 each worker takes ceil(max_connections / workers).
   */
  max_connections: z.number().int().min(1).default(100),
  /**
   * Processes serving the policy port (node:cluster, connections spread round-robin); `auto` = one per
   * core (os.availableParallelism()). Each has its own Redis connection and caches. 1: one process, no cluster.
   */
  workers: z
    .union([z.number().int().min(1).max(256), z.literal('auto')], { error: 'expected a number of processes (1 to 256) or auto' })
    .default(1),
  /**
   * Checks Postfix already does in its own restriction lists; the profile skips them in the engine
   * so they are not done twice.
   */
  skip: z
    .strictObject({
      helo: z.boolean().default(false),
      sender: z.boolean().default(false),
      recipients: z.boolean().default(false),
      relay: z.boolean().default(true),
    })
    .prefault({}),
  /** Postfix protocol states the engine is asked at; all others answer DUNNO. */
  stages: z.array(z.enum(['connect', 'helo', 'mail', 'rcpt', 'data', 'end-of-message'])).min(1).default(['rcpt']),
  /**
   * What an engine permit becomes. DUNNO (default): Postfix's own later restrictions still run, so a
   * moat permit can never authorise relaying. OK: ends Postfix's list (only with moat placed last).
   */
  permit_action: z.enum(['DUNNO', 'OK']).default('DUNNO'),
  /** `code`: `554 5.7.1 text` (the engine's code); `reject`: `REJECT 5.7.1 text` ($access_map_reject_code). */
  reject_style: z.enum(['code', 'reject']).default('code'),
  /** A request whose blank line does not arrive within this time: the connection is closed. */
  request_timeout: duration.default(10_000),
  /** A decision taking longer (a hung port): answered with `error_action`. */
  decision_timeout: duration.default(10_000),
  /** Answer when the engine fails; unset: log and disconnect, so Postfix applies its default_action. */
  error_action: postfixAction.optional(),
  /** The one answer a connection over max_connections gets before it is closed (fail open by default). */
  overload_action: postfixAction.default('DUNNO'),
  /** Longest request line, bytes (Postfix's own are far shorter). */
  max_line: z.number().int().min(256).max(1_048_576).default(4096),
  /** Largest request, bytes. */
  max_request: z.number().int().min(1024).max(16_777_216).default(65_536),
  /**
   * Also append every decision to the shared decision journal (Redis, greylist.redis), so `moat explain`
   * and the console see policyd's decisions too. One more Redis write per decision, in the background.
   */
  journal: z.boolean().default(false),
});

export type PolicydSection = z.infer<typeof policydSection>;
