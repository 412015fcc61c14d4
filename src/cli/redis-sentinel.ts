import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type PrivateRedis } from './redis-server.js';

/**
 * A Redis that fails over, on loopback, for tests and measurements: a primary, a replica and
 * three Sentinels (quorum 2) watching them, from Debian's redis-server and redis-sentinel.
 */
export interface SentinelGroup {
  masterName: string;
  primary: PrivateRedis;
  replica: PrivateRedis;
  /** REDIS_SENTINELS: host:port,host:port,host:port */
  sentinels: string;
  /** Resolves with the address a Sentinel announces once it has promoted a new primary. */
  switched: Promise<string>;
  stop(): Promise<void>;
}

/** A process's output, line by line, and a way to wait for a line. */
class Output {
  private text = '';
  private readonly waiters: { pattern: RegExp; count: number; resolve: () => void }[] = [];

  constructor(child: ChildProcess) {
    const take = (chunk: Buffer) => {
      this.text += chunk.toString();
      for (const w of [...this.waiters]) {
        if ((this.text.match(new RegExp(w.pattern, 'g')) ?? []).length >= w.count) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
  }

  /** Resolves once `pattern` has appeared `count` times. */
  waitFor(pattern: RegExp, count = 1): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push({ pattern, count, resolve });
      if ((this.text.match(new RegExp(pattern, 'g')) ?? []).length >= count) {
        this.waiters.pop();
        resolve();
      }
    });
  }
}

/** Resolves once the replica's link to its primary is up (the initial sync is done). */
async function replicaInSync(url: string): Promise<void> {
  const replica = new Redis(url);
  try {
    const deadline = Date.now() + 20_000;
    while (!/master_link_status:up/.test(await replica.info('replication'))) {
      if (Date.now() > deadline) throw new Error('the replica did not finish its initial sync within 20 s');
      await new Promise((ok) => setTimeout(ok, 50));
    }
  } finally {
    replica.disconnect();
  }
}

export async function startSentinelGroup(options: { dir: string; masterName?: string; downAfterMs?: number }): Promise<SentinelGroup> {
  const dir = resolve(options.dir);
  const masterName = options.masterName ?? 'descent';
  const primary = await startRedisServer({ port: await freePort(), dir: join(dir, 'primary'), appendOnly: false });
  // Diskless sync waits 5 s by default for more replicas to share the transfer: start at once.
  const admin = new Redis(primary.url);
  await admin.config('SET', 'repl-diskless-sync-delay', '0');
  admin.disconnect();
  const replica = await startRedisServer({ port: await freePort(), dir: join(dir, 'replica'), appendOnly: false, replicaOf: primary.port });
  await replicaInSync(replica.url);
  const sentinels: { child: ChildProcess; output: Output; port: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const sdir = join(dir, `sentinel-${i}`);
    mkdirSync(sdir, { recursive: true });
    const conf = join(sdir, 'sentinel.conf');
    // Sentinel rewrites its config file as it learns the group, so each has one of its own.
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${sdir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1_000}`,
        `sentinel failover-timeout ${masterName} 5000`,
        `sentinel parallel-syncs ${masterName} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-sentinel', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    sentinels.push({ child, output: new Output(child), port });
  }
  // Ready for a failover once every Sentinel knows the replica and the two other Sentinels.
  await Promise.all(sentinels.map((s) => Promise.all([s.output.waitFor(/\+slave slave/), s.output.waitFor(/\+sentinel sentinel/, 2)])));
  const switched = Promise.race(sentinels.map((s) => s.output.waitFor(/\+switch-master/).then(() => `127.0.0.1:${replica.port}`)));
  return {
    masterName,
    primary,
    replica,
    sentinels: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    switched,
    stop: async () => {
      await Promise.all(
        sentinels.map(
          (s) =>
            new Promise<void>((ok) => {
              if (s.child.exitCode !== null || s.child.signalCode !== null) return ok();
              s.child.once('exit', () => ok());
              s.child.kill('SIGTERM');
            }),
        ),
      );
      await Promise.all([primary.stop(), replica.stop()]);
    },
  };
}
