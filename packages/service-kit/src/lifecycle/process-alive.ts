/**
 * Whether a process with this id runs (signal 0 checks without sending anything). EPERM means it runs as someone
 * else. Used where a pid written to a lock or owner file may outlive its process: a stale file is taken over.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
