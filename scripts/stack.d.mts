// Types for scripts/stack.mjs, so the TypeScript integration suite (packages/e2e) can import it.
export const ROOT: string;
export const COMPOSE_DIR: string;
export const IMAGES: string[];
export const APP_IMAGES: string[];
export const NPM_CACHE_DIR: string;
export const TEST_IMAGES: string[];
export const TAG: string;
export interface StackOptions {
  project: string;
  files: string[];
  env: Record<string, string>;
}
export interface ProjectContainer {
  service: string;
  state: string;
  status: string;
  ports: string;
  name: string;
  health: 'healthy' | 'unhealthy' | 'starting' | 'none';
}
export function stackOptions(opts?: { test?: boolean }): StackOptions;
/** Whether a moat.yaml makes mx answer on 80 or 443 (mx.tls.acme or mx.mta_sts): the web ports are then published. */
export function servesWeb(configText: string): boolean;
export function readEnvFile(file: string): Record<string, string>;
/** compose/.env (or `file`) as an object; {} when missing. */
export function composeDotEnv(file?: string): Record<string, string>;
/** Throws (saying what to rename) when the retired MOAT_CONFIG is set, in `env` or compose/.env, without MOAT_CONFIG_DIR. */
export function checkRetiredConfigVar(env?: Record<string, string | undefined>, dotEnv?: Record<string, string>): void;
export function ensureBuildNpmCache(dir?: string): Promise<boolean>;
export function imageBuildArgs(name: string, opts?: { tag?: string }): string[];
export function buildImages(opts?: { test?: boolean; only?: string[] }): Promise<void>;
export function ensureSecrets(
  dir?: string,
  opts?: { hostname?: string; users?: Array<[string, string]> },
): Promise<{ crt: string; key: string; users: string; consoleHash: string; redisPassword: string }>;
export function moatUser(args: string[], opts?: { input?: string }): Promise<string>;
export function compose(opts: StackOptions, args: string[], o?: { quiet?: boolean; nothrow?: boolean; inherit?: boolean }): Promise<{ exitCode: number | null; stdout: string; stderr: string }>;
export function projectContainers(project: string): Promise<ProjectContainer[]>;
export function waitHealthy(project: string, opts?: { timeoutMs?: number }): Promise<ProjectContainer[]>;
export function up(opts?: { test?: boolean; build?: boolean }): Promise<ProjectContainer[]>;
export function down(opts?: { test?: boolean; volumes?: boolean }): Promise<void>;
export function status(opts?: { test?: boolean }): Promise<ProjectContainer[]>;
export function addUser(user: string, opts?: { test?: boolean; password?: string; dir?: string }): Promise<string>;
export const STACK_DKIM_DIR: string;
export interface DkimKeygenResult {
  domain: string;
  selector: string;
  type: 'rsa' | 'ed25519';
  /** The key's path in the mx container (/etc/moat/dkim/...). */
  key: string;
  /** The key's path on this host (secrets/dkim/...). */
  hostKey: string;
  record: { name: string; type: 'TXT'; value: string; strings: string[] };
}
export function dkimKeygen(
  domain: string,
  opts?: { test?: boolean; dir?: string; selector?: string; ed25519?: boolean; bits?: number | string },
): Promise<DkimKeygenResult>;
export function ensureTestDkim(dir: string, opts?: { domain?: string; selector?: string }): Promise<{ name: string; value: string; strings: string[]; zoneLine: string }>;
export function ensureTestRedisUrl(dir: string, opts?: { net?: string }): Promise<string>;
