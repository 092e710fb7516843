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
export function up(): Promise<number>;
export function down(): Promise<void>;
export function usage(): Promise<Record<string, { containersCpuS: number; engineCpuS: number; containersRssMB: number }>>;
