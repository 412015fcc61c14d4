import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * The worker's local note of who it is, rewritten after every heartbeat that reached Redis.
 * A container health check reads it to know which registry entry is its own: host names and
 * pids do not tell workers apart when containers share the host network.
 */
const heartbeatNote = z.object({ id: z.string().min(1), at: z.number() });
export type HeartbeatNote = z.infer<typeof heartbeatNote>;

export async function writeHeartbeatNote(path: string, note: HeartbeatNote): Promise<void> {
  // Write then rename, so a reader never sees half a file.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(note));
  await rename(tmp, path);
}

export async function readHeartbeatNote(path: string): Promise<HeartbeatNote> {
  return heartbeatNote.parse(JSON.parse(await readFile(path, 'utf8')));
}
