// moat's one configuration: moat.yaml (+ MOAT_* environment overrides) parsed once, validated, frozen.
// Trusts nothing it reads; errors name the file, the path, what was expected and what was found.
export { loadConfig, parseConfig, formatConfigErrors, formatPath, ConfigError, type ConfigIssue } from './load.ts';
export { compileConfig, type CompiledConfig, type CompileOptions } from './compile.ts';
export { compileRouting, type CompiledRouting, type RoutingCompileOptions } from './compile-routing.ts';
export { configSchema, type Config, type ConfigInput } from './schema.ts';
export { ENV_OVERRIDES, type EnvOverride } from './env.ts';
export { DEFAULT_RECIPIENT_RESTRICTIONS_TEXT, DEFAULT_RELAY_RESTRICTIONS_TEXT, defaultRecipientRestrictionsText } from './default-policy.ts';
export { parseDuration } from './sections/common.ts';
export { lintConfig, type ConfigWarning } from './lint.ts';
export type { PolicySection } from './sections/policy.ts';
export type { RecipientsSection } from './sections/recipients.ts';
export { lintRouting, type RoutingIssue, type RoutingSection, routingConflicts, splitPostfixList } from './sections/routing.ts';
export type { DnsSection } from './sections/dns.ts';
export type { GreylistSection } from './sections/greylist.ts';
export type { MxSection } from './sections/mx.ts';
export type { SpamdSection } from './sections/spamd.ts';
export type { QueueSection } from './sections/queue.ts';
export type { PolicydSection } from './sections/policyd.ts';
export type { MetricsSection } from './sections/metrics.ts';
export { parseMainCf, type MainCf, type MainCfEntry, type MainCfProblem } from './postfix/main-cf.ts';
export { expandValue, ExpandError } from './postfix/expand.ts';
export { createParams, type PostfixParams } from './postfix/params.ts';
export { POSTFIX_DEFAULTS } from './postfix/defaults.ts';
export { importMainCf, ASSUMED_COMPATIBILITY_LEVEL, type MainCfImport, type KeyReport } from './postfix/import.ts';
export { ROUTING_KEYS, IGNORED_CLASSES } from './postfix/keys.ts';
export type { PostfixReport } from './postfix/report.ts';
export type { PostfixSection } from './sections/postfix.ts';
