export { defaultRootDir, startSystem, type RunningSystem, type StartSystemOptions } from './system';
export { watchSystem, type DevWatcher, type Reload, type WatchOptions } from './dev';
export { withEnvFile, type EnvWithFile } from './env-file';
export { readWorkspace, rebuildOrder, type WorkspacePackage } from './workspace';
export { StartFailure, backoffDelay, type ExitInfo, type InstanceInfo, type RestartPolicy } from './process';
export { createEmbeddedPostgres } from './embedded-postgres';
export { databaseNameFor } from './databases';
export type { KitMessage } from './ipc';
export { UsageError } from './services';
export {
  startIsolatedSystem,
  freePort,
  dropDatabases,
  deleteRedisKeys,
  type IsolatedSystem,
  type IsolatedSystemOptions,
} from './isolated-system';
