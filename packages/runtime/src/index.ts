// Wiring shared by mx and policyd: the engine built from config, and one log line + metrics per decision.
// Trusts the parsed config; treats every fact as untrusted when logging it.
export { buildEngine, zonesOf, type BuiltEngine, type BuildOptions, type Engine } from './build-engine.ts';
export { buildRouting, type BuiltRouting } from './build-routing.ts';
export { type AddressExplanation, describeNextHop, type ExplainedRecipient, explainAddress } from './explain-address.ts';
export { hideVerdict, hideZones, zoneHider } from './hide-zones.ts';
export { senderLoginCheck, type Listener, type SenderLoginCheck } from './sender-login.ts';
export {
  createDecisionMetrics,
  recordDecision,
  restrictionLabel,
  type DecisionExtras,
  type DecisionMetrics,
  type DecisionSink,
} from './decisions.ts';
export { createReloader, restartOnlyChanges, type Lease, type ReloadOutcome, type Reloader, type ReloaderOptions, type ReloadReport } from './reload.ts';
