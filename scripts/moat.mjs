#!/usr/bin/env zx
// `npm run moat -- ARGS`: the moat CLI run inside the running stack's mx container, so it sees what mx sees:
// the stack's moat.yaml, Redis, Unbound and the spool volume. Trusts the local Docker engine; never starts
// an engine, a container or a build: when the stack is not running it says so and exits 1.
//
//   npm run moat -- queue list                       the stack's spool (mailq)
//   npm run moat -- explain --client IP --helo NAME --sender ADDR --recipient ADDR
//   npm run moat -- --test zones                     the test profile's project (moat-test)
//   npm run moat -- --project moat-cluster --service mx1 greylist stuck
// Options before the command are this script's; everything from the command on goes to the CLI unchanged.
import { spawn } from 'node:child_process';
import { $ } from 'zx';
import { DK_DIR, dockerEnv, engineCandidates, findEngine } from './docker.mjs';
import { projectContainers, stackOptions } from './stack.mjs';

/** Where compose/app/Dockerfile (target mx) puts the CLI bundle (apps/cli/dist/main.js). */
export const CLI_PATH = '/usr/local/lib/moat/cli/main.js';
/** The config mx runs with (in the config directory compose mounts at /etc/moat/conf; mx gets it as --config, the CLI through MOAT_CONFIG). */
export const STACK_CONFIG = '/etc/moat/conf/moat.yaml';

const PRIVATE_ENGINE = `unix://${DK_DIR}/docker.sock`;

const USAGE = `usage: npm run moat -- [--test | --project NAME] [--service NAME] COMMAND [ARGS...]
  Runs \`moat COMMAND ARGS\` inside the running stack (default: project moat, service mx).
  Commands: queue, explain, greylist, zones, reload, config check (npm run moat -- --help lists them all).`;

/** This script's leading options, then the CLI's arguments untouched. Throws on a bad option. */
export function parseMoatArgs(argv) {
  const o = { project: undefined, service: 'mx', test: false, cliArgs: [] };
  let i = 0;
  const value = (name) => {
    const a = argv[i];
    const eq = a.indexOf('=');
    const v = eq === -1 ? argv[++i] : a.slice(eq + 1);
    if (!v || v.startsWith('-')) throw new Error(`option --${name} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-')) break;
    if (a === '--test') o.test = true;
    else if (a === '--project' || a.startsWith('--project=')) o.project = value('project');
    else if (a === '--service' || a.startsWith('--service=')) o.service = value('service');
    // Anything else (--help, -h) belongs to the CLI.
    else break;
  }
  o.cliArgs = argv.slice(i);
  o.project ??= stackOptions({ test: o.test }).project;
  return o;
}

/** `docker exec` arguments: stdin always (commands may read it), a TTY only when both ends are terminals. */
export function execArgs({ container, cliArgs, tty = false }) {
  return ['exec', '-i', ...(tty ? ['-t'] : []), '-e', `MOAT_CONFIG=${STACK_CONFIG}`, container, 'node', CLI_PATH, ...cliArgs];
}

/** The running container of `service` in the project's containers, or why there is none. */
export function pickContainer(containers, { project, service }) {
  const running = containers.find((c) => c.service === service && c.state === 'running');
  if (running) return { container: running.name };
  const seen = containers.map((c) => `${c.service} ${c.state}`).join(', ');
  const start =
    project === stackOptions().project
      ? 'npm run stack -- up'
      : project === stackOptions({ test: true }).project
        ? 'npm run stack -- up --test'
        : `docker compose -p ${project} -f compose/<its file> up -d (docs/rollout.md)`;
  return {
    error: `moat: the stack is not running: compose project ${project} has no running ${service} container${seen ? ` (found: ${seen})` : ''}.
  Start it with: ${start}`,
  };
}

/** What to say when no Docker engine answers. */
export function noEngineMessage(candidates) {
  return `moat: the stack is not running here: no Docker engine answers at ${candidates.join(' or ')}${process.env.DOCKER_HOST ? ' (DOCKER_HOST)' : ''}.
  Start it with: npm run stack -- up
  If it runs on another engine, point DOCKER_HOST at it (the private one scripts/docker.mjs starts: ${PRIVATE_ENGINE}).
  Without the stack, the CLI on this host reaches what a moat.yaml names: npm exec -- node apps/cli/src/main.ts ...`;
}

/**
 * Runs the CLI in the stack and returns its exit code (1 with a message when the stack is not running).
 * `deps` replaces Docker for tests: findEngine(), containers(project), has(env, container), exec(args, env), err(text).
 */
export async function runInStack(argv, deps = {}) {
  const err = deps.err ?? ((s) => process.stderr.write(s));
  let o;
  try {
    o = parseMoatArgs(argv);
  } catch (e) {
    err(`moat: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  const host = await (deps.findEngine ?? findEngine)();
  if (!host) {
    err(`${noEngineMessage(engineCandidates())}\n`);
    return 1;
  }
  // As the other scripts do: every docker command from here on talks to this engine.
  Object.assign(process.env, dockerEnv(host));
  const env = process.env;
  const containers = await (deps.containers ?? containersOf)(o.project);
  const picked = pickContainer(containers, o);
  if (picked.error) {
    err(`${picked.error}\n`);
    return 1;
  }
  if (!(await (deps.has ?? hasCli)(env, picked.container))) {
    err(`moat: ${picked.container} has no moat CLI at ${CLI_PATH} (its image predates it): rebuild with npm run stack -- up\n`);
    return 1;
  }
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  return (deps.exec ?? exec)(execArgs({ container: picked.container, cliArgs: o.cliArgs, tty }), env);
}

async function containersOf(project) {
  try {
    return await projectContainers(project);
  } catch {
    return [];
  }
}

async function hasCli(env, container) {
  return (await $({ env, quiet: true, nothrow: true })`docker exec ${container} test -f ${CLI_PATH}`).exitCode === 0;
}

function exec(args, env) {
  return new Promise((resolve) => {
    const child = spawn('docker', args, { env, stdio: 'inherit' });
    child.on('error', (e) => {
      process.stderr.write(`moat: cannot run docker: ${e.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

if (process.argv.some((a) => a.endsWith('scripts/moat.mjs')) && import.meta.url.endsWith('scripts/moat.mjs')) {
  const argv = process.argv.slice(process.argv.findIndex((a) => a.endsWith('moat.mjs')) + 1);
  process.exitCode = await runInStack(argv);
}
