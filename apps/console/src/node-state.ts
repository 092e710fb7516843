// What one node's /metrics says about its state: mx stress mode (moat_mx_stress, per listener) and the last config
// reload (moat_reload_total{outcome}, moat_config_last_reload_successful). Pure; a metric a node lacks is left out.
import type { Sample } from './scrape.ts';

export interface NodeState {
  /** Listeners under stress now (moat_mx_stress = 1); undefined when the node exports no stress gauge (not an mx). */
  stress?: { listeners: string[]; on: string[]; switches: number } | undefined;
  /** undefined when the node exports no reload metrics (an older build, or no reload yet counted). */
  reload?: { lastOk?: boolean | undefined; outcomes: Record<string, number> } | undefined;
}

export function nodeState(samples: readonly Sample[]): NodeState {
  const state: NodeState = {};
  for (const s of samples) {
    if (s.name === 'moat_mx_stress') {
      state.stress ??= { listeners: [], on: [], switches: 0 };
      const l = s.labels.listener ?? 'smtp';
      state.stress.listeners.push(l);
      if (s.value > 0) state.stress.on.push(l);
    } else if (s.name === 'moat_mx_stress_switches_total') {
      state.stress ??= { listeners: [], on: [], switches: 0 };
      state.stress.switches += s.value;
    } else if (s.name === 'moat_reload_total') {
      state.reload ??= { outcomes: {} };
      const o = s.labels.outcome ?? '?';
      state.reload.outcomes[o] = (state.reload.outcomes[o] ?? 0) + s.value;
    } else if (s.name === 'moat_config_last_reload_successful') {
      state.reload ??= { outcomes: {} };
      // one gauge per component on a node: the last reload failed when any says so
      state.reload.lastOk = (state.reload.lastOk ?? true) && s.value > 0;
    }
  }
  return state;
}
