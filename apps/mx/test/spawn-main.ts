// The real moat-mx binary (src/main.ts) as a child process for the tests that need the whole program (start,
// reload, ACME, shutdown, SIGKILL): its stdout and stderr collected in `log.text`, waited for until its port answers.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitForPort } from '@moat/testkit';

export interface SpawnedMx {
  proc: ChildProcess;
  /** Everything the process printed so far (one JSON log line per event). */
  log: { text: string };
  /**
   * The log once it matches `re` (or, after `ms`, as it is): log lines are batched (@moat/observe bufferedStdout,
   * written every 200 ms or at exit), so a line may arrive a moment after the event it tells of.
   */
  logged(re: RegExp, ms?: number): Promise<string>;
  /** SIGTERM, and wait for the exit (nothing when it is gone already). */
  stop(): Promise<void>;
  /** SIGKILL, and wait for the exit (nothing when it is gone already). */
  kill(): Promise<void>;
}

export interface SpawnOptions {
  /** MOAT_LOG_LEVEL; `info` unless given. */
  logLevel?: string;
  /** How long its port may take to answer; 60 s unless given (a loaded machine starts it slowly). */
  waitMs?: number;
  /** A set the process is kept in while it runs (for an afterAll that kills what a failed test left). */
  live?: Set<ChildProcess>;
}

export async function spawnMain(config: string, port: number, extraArgs: readonly string[] = [], opts: SpawnOptions = {}): Promise<SpawnedMx> {
  const proc = spawn(process.execPath, [join(import.meta.dirname, '../src/main.ts'), '--config', config, '--listen', `127.0.0.1:${port}`, ...extraArgs], {
    env: { ...process.env, MOAT_LOG_LEVEL: opts.logLevel ?? 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  opts.live?.add(proc);
  const exited = new Promise((r) => proc.once('exit', r));
  void exited.then(() => opts.live?.delete(proc));
  const log = { text: '' };
  proc.stdout?.on('data', (b: Buffer) => {
    log.text += b.toString();
  });
  proc.stderr?.on('data', (b: Buffer) => {
    log.text += b.toString();
  });
  await waitForPort(port, '127.0.0.1', opts.waitMs ?? 60_000).catch((e) => {
    throw new Error(`${e}\n${log.text}`);
  });
  const end = async (signal: NodeJS.Signals) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    await exited;
  };
  return {
    proc,
    log,
    async logged(re, ms = 10_000) {
      for (const until = Date.now() + ms; !re.test(log.text) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
      return log.text;
    },
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}
