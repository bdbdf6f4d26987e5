/** Entry point of the `caddyfleet` command (bin/caddyfleet.mjs imports this through tsx). */
import { runCli } from './program';

// `caddyfleet … | head`: the reader left. That is how such a pipeline ends, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Nothing should be left running once a command has finished; if something is (a stray socket or timer),
// do not hang: this timer does not itself keep the process alive.
setTimeout(() => process.exit(code), 5_000).unref();
