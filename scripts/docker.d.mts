// Types for scripts/docker.mjs, so the TypeScript integration suite (packages/e2e) can import it.
export const DK_DIR: string;
export const BASE_IMAGE: string;
export const BUILD_BASE_IMAGE: string;
export function dockerEnv(host?: string): Record<string, string>;
export function engineCandidates(): string[];
export function findEngine(): Promise<string | null>;
export function ensurePackages(commands?: string[]): Promise<void>;
export function startPrivateDockerd(): Promise<number>;
export function stopPrivateDockerd(): Promise<boolean>;
export function ensureBaseImage(image?: string): Promise<boolean>;
export function ensureComposeV2(): Promise<boolean>;
export function composeCommand(): Promise<string[]>;
export function ensureDocker(opts?: { base?: boolean; composeV2?: boolean }): Promise<{ env: Record<string, string>; started: boolean }>;
export function cleanup(opts?: { projects?: string[]; pattern?: RegExp | null; testcontainers?: boolean }): Promise<number>;
