#!/usr/bin/env node
import { parseCliArgs, usage } from './cli-args';
import { watchSystem, type DevWatcher } from './dev';
import { withEnvFile } from './env-file';
import { StartFailure } from './process';
import { UsageError } from './services';
import { defaultRootDir, startSystem, type RunningSystem } from './system';

// `npm start` delivers one Ctrl-C twice (the terminal signals the whole group and npm forwards it
// again), so only a signal this long after the first one counts as a second Ctrl-C.
const SECOND_SIGNAL_AFTER_MS = 1000;

async function main(): Promise<number> {
  const options = parseCliArgs(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(usage);
    return 0;
  }
  const rootDir = options.rootDir ?? defaultRootDir();
  const { env, file, fromFile } = withEnvFile(rootDir, process.env);
  if (file)
    console.log(
      `Read ${file}${fromFile.length > 0 ? `: ${fromFile.join(', ')}` : ' (the environment sets all it names)'}`,
    );
  const controller = new AbortController();
  let system: RunningSystem | undefined;
  let watcher: DevWatcher | undefined;
  let firstSignalAt: number | undefined;
  let requestStop = (): void => undefined;
  const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now();
      console.log(`\n${signal}: stopping everything (Ctrl-C again to kill at once)…`);
      controller.abort();
      requestStop();
      return;
    }
    if (Date.now() - firstSignalAt < SECOND_SIGNAL_AFTER_MS) return;
    console.log('Killing everything now.');
    system?.forceStop();
    process.exit(130);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  try {
    system = await startSystem({ ...options, rootDir, env, signal: controller.signal });
  } catch (err) {
    if (controller.signal.aborted) return 0;
    if (err instanceof StartFailure) return 1; // already reported, with the service's last output
    throw err;
  }
  if (options.watch && !controller.signal.aborted) {
    watcher = watchSystem(system, { color: process.stdout.isTTY === true });
    console.log(
      `Watching ${watcher.watched.length} source folder(s): a change rebuilds and replaces what uses it.`,
    );
  }
  console.log('Press Ctrl-C to stop.');
  // The supervised children keep the event loop alive until a signal asks to stop.
  await stopRequested;
  await watcher?.close();
  await system.stop();
  console.log('Stopped.');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n(npm start -- --help shows the options)`);
      process.exit(2);
    }
    console.error(err.stack ?? err.message);
    process.exit(1);
  },
);
