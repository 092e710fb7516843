// Each app's typed view of the one parsed config: `views.mx(cfg)`, `views.policyd(cfg)`, `views.console(cfg)`, `views.redis(cfg)`.
// Views rename and convert; they hold no defaults (the schema's are the only ones).
import { consoleView } from './console.ts';
import { mxView } from './mx.ts';
import { policydView } from './policyd.ts';
import { redisView } from './redis.ts';

export const views = Object.freeze({ mx: mxView, policyd: policydView, console: consoleView, redis: redisView });
export type { ConsoleView } from './console.ts';
export type { DmarcView, MxView, SpamdView } from './mx.ts';
export { policydClients, type PolicydView } from './policyd.ts';
export type { RedisView } from './redis.ts';
