// Types for scripts/moat.mjs, so its tests (apps/cli/test) can import it.
import type { ProjectContainer } from './stack.mjs';
export const CLI_PATH: string;
export const STACK_CONFIG: string;
export function parseMoatArgs(argv: readonly string[]): { project: string; service: string; test: boolean; cliArgs: string[] };
export function execArgs(o: { container: string; cliArgs: readonly string[]; tty?: boolean }): string[];
export function pickContainer(containers: readonly ProjectContainer[], o: { project: string; service: string }): { container: string; error?: undefined } | { error: string; container?: undefined };
export function noEngineMessage(candidates: readonly string[]): string;
export function runInStack(
  argv: readonly string[],
  deps?: {
    findEngine?: () => Promise<string | null>;
    containers?: (project: string) => Promise<ProjectContainer[]>;
    has?: (env: NodeJS.ProcessEnv, container: string) => Promise<boolean>;
    exec?: (args: string[], env: NodeJS.ProcessEnv) => Promise<number>;
    err?: (text: string) => void;
  },
): Promise<number>;
