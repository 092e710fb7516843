// The shape every `moat` subcommand implements (one file per subcommand in this directory).
// Subcommands write to the streams given, never to process.stdout directly, so tests can capture them.

export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Standard input for commands that read `-` (default process.stdin). */
  in?: NodeJS.ReadableStream;
}

export interface Command {
  /** Arguments after the command name, for the usage text (e.g. `check FILE`). */
  usage: string;
  /** Returns the exit code: 0 ok, 1 failure, 2 usage error. */
  run(args: readonly string[], io: Io): Promise<number>;
}
