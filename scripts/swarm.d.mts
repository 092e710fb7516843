// Types for scripts/swarm.mjs, so the TypeScript swarm suite (packages/e2e-swarm) can import it.
export interface SwarmNode {
  name: 'mx1' | 'mx2' | 'mx3';
  ns: string;
  ip: string;
  host: string;
  dir: string;
  execRoot: string;
}
export const NET: string;
export const BRIDGE: string;
export const SWARM_DIR: string;
export const REGISTRY: string;
export const CLIENT2: string;
export const NODES: SwarmNode[];
export function dockerAt(node: SwarmNode, args: string[], opts?: object): Promise<{ stdout: string; stderr: string; exitCode: number | null }>;
export function startEngine(node: SwarmNode): Promise<void>;
export function stopEngine(node: SwarmNode, opts?: { graceS?: number }): Promise<void>;
export function pushImages(images: Record<string, string>, opts?: { buildHost?: string }): Promise<number>;
/** Starts the engines, the swarm and the registry; `watch`: the pid whose end takes them down (0: none). */
export function up(opts?: { watch?: number }): Promise<number>;
/** What this kernel lacks to run the swarm (null: nothing); throws when not root or a probe fails otherwise. */
export function kernelLacks(): Promise<string | null>;
export function down(): Promise<void>;
export function usage(): Promise<Record<string, { containersCpuS: number; engineCpuS: number; containersRssMB: number }>>;
