// The engine's old address, kept for importers: the engine lives in engine/ (compile, run, context) and restrictions/.
// Trusts what engine/index.ts trusts.
export { createEngine, type Engine } from './engine/index.ts';
