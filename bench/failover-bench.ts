/**
 * Part `failover`: what an asynchronous Redis replica can lose when the primary dies. A primary,
 * a replica and three Sentinels on loopback; BENCH_FAILOVER_WRITERS connections append entries
 * to a stream (as workers append epoch events) as fast as they are acknowledged; the primary is
 * killed with SIGKILL; once the Sentinels have promoted the replica, every acknowledged entry
 * missing from it is counted as lost. Run without and with WAIT 1 after each write
 * (REDIS_WAIT_REPLICAS=1), BENCH_FAILOVER_TRIALS times each; and with a lagging replica: frozen
 * (SIGSTOP) for BENCH_FAILOVER_LAG_MS before the kill, as a stalled host or network would leave it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSentinelGroup } from '../src/cli/redis-sentinel.js';
import { createRedis } from '../src/store/redis.js';
import { sleep, stat, table } from './stats.js';

const TRIALS = Number(process.env.BENCH_FAILOVER_TRIALS ?? 3);
const WRITERS = Number(process.env.BENCH_FAILOVER_WRITERS ?? 8);
const WRITE_MS = Number(process.env.BENCH_FAILOVER_WRITE_MS ?? 1_500);
const LAG_MS = Number(process.env.BENCH_FAILOVER_LAG_MS ?? 500);

export interface FailoverTrial {
  wait: number;
  /** How long the replica was frozen before the kill (0: it kept up). */
  lagMs: number;
  acknowledged: number;
  lost: number;
  /** From the kill to the first write accepted by the new primary. */
  unavailableMs: number;
}

export interface FailoverResult {
  writers: number;
  trials: FailoverTrial[];
}

async function trial(wait: number, lagMs: number): Promise<FailoverTrial> {
  const dir = mkdtempSync(join(tmpdir(), 'descent-bench-failover-'));
  const group = await startSentinelGroup({ dir });
  const settings = { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_SENTINELS: group.sentinels, REDIS_MASTER_NAME: group.masterName };
  const connections = Array.from({ length: WRITERS }, () => createRedis(settings));
  let killedAt = 0;
  /** Once the old primary has exited: a write started after this went to the new one. */
  let deadAt = Infinity;
  let backAt = 0;
  let stop = false;
  const acked: string[][] = connections.map(() => []);
  try {
    const writers = connections.map(async (c, w) => {
      for (let n = 0; !stop; n++) {
        const started = performance.now();
        try {
          await c.xadd('bench:events', '*', 'entry', `${w}:${n}`);
          if (started > deadAt && !backAt) backAt = performance.now();
          // With WAIT, a write counts as acknowledged only once the replica confirmed it (after the
          // failover there is no replica left, so nothing more counts).
          if (wait > 0 && (await c.wait(wait, 200)) < wait) continue;
          acked[w]!.push(`${w}:${n}`);
        } catch {
          await sleep(20);
        }
      }
    });
    await sleep(WRITE_MS - lagMs);
    if (lagMs > 0) group.replica.pause(true);
    await sleep(lagMs);
    killedAt = performance.now();
    const ackedBeforeKill = acked.reduce((s, a) => s + a.length, 0);
    await group.primary.crash();
    deadAt = performance.now();
    if (lagMs > 0) group.replica.pause(false);
    await group.switched;
    while (!backAt) await sleep(20);
    stop = true;
    await Promise.all(writers);
    const present = new Set((await connections[0]!.xrange('bench:events', '-', '+')).map(([, fields]) => fields[1]!));
    const lost = acked.flat().filter((e) => !present.has(e)).length;
    return { wait, lagMs, acknowledged: ackedBeforeKill, lost, unavailableMs: backAt - killedAt };
  } finally {
    stop = true;
    group.replica.pause(false);
    for (const c of connections) c.disconnect();
    await group.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runFailoverBench(): Promise<FailoverResult> {
  const trials: FailoverTrial[] = [];
  for (const lagMs of [0, LAG_MS]) for (const wait of [0, 1]) for (let i = 0; i < TRIALS; i++) trials.push(await trial(wait, lagMs));
  return { writers: WRITERS, trials };
}

export function failoverTable(r: FailoverResult): string {
  const lags = [...new Set(r.trials.map((t) => t.lagMs))];
  const rows = lags.flatMap((lagMs) =>
    [0, 1].map((wait) => {
      const ts = r.trials.filter((t) => t.wait === wait && t.lagMs === lagMs);
      return [
        lagMs === 0 ? 'in step' : `frozen ${lagMs} ms before the kill`,
        wait === 0 ? 'no WAIT (default)' : 'WAIT 1 after each write',
        ts.map((t) => t.acknowledged).join(', '),
        ts.map((t) => t.lost).join(', '),
        stat(ts.map((t) => t.unavailableMs)).median.toFixed(0),
      ];
    }),
  );
  return table(['replica', 'writes', 'acknowledged before the kill, per trial', 'acknowledged but lost, per trial', 'unavailable ms (median)'], rows);
}
