/**
 * The signals that stop a foreground agent or controller through its graceful shutdown (managed Caddy stopped,
 * database closed): SIGINT (Ctrl-C), SIGTERM (systemd, kill) and SIGHUP (its terminal was closed). Node's default
 * for SIGHUP is to die on the spot, which left a detached Caddy serving and the controller closed uncleanly.
 *
 * After a hang-up every write to the terminal fails with EIO. Nobody is left to read it, but an unhandled write
 * error would crash the process in the middle of its cleanup (and pino's exit flush retries EIO forever), so
 * output to a hung-up terminal is dropped: process.stdout/stderr here, log lines by `logDestination` (./logger.ts).
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Resolves on the first stop signal. A second SIGINT or SIGTERM while shutting down calls `onAgain` (default: exit
 * 130 at once). A second SIGHUP is ignored: a closing terminal often sends two (the shell forwards one to its
 * jobs, the kernel another when the session leader exits), and neither asked to skip the cleanup.
 */
export function waitForStopSignal(onAgain: (signal: NodeJS.Signals) => void = () => process.exit(130)): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      for (const s of STOP_SIGNALS) process.off(s, first);
      process.on('SIGHUP', () => {});
      for (const s of STOP_SIGNALS) if (s !== 'SIGHUP') process.once(s, onAgain);
      if (signal === 'SIGHUP') {
        for (const stream of [process.stdout, process.stderr]) {
          stream.removeAllListeners('error');
          stream.on('error', () => {});
        }
      }
      resolve(signal);
    };
    for (const s of STOP_SIGNALS) process.on(s, first);
  });
}
