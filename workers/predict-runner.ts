import { fork, type ChildProcess } from 'node:child_process';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../src/config/config.js';
import type { PredictJobData, PredictReply } from '../src/queue/queues.js';
import { resolveEntry } from '../src/shared/entry.js';
import type { Logger } from '../src/shared/logger.js';
import { artifactStoreSettings } from '../src/storage/open-artifact-store.js';
import type { PredictParentMessage, PredictRequest, PredictResponse } from './predict-protocol.js';

const CHILD = resolveEntry(import.meta.url, './predict-child');

/**
 * Answers predict requests in a long-lived child process of its own (tfjs-node cannot run in
 * worker threads), so this process's event loop stays free to renew training jobs' locks
 * however heavy a prediction is. Replies go to the asking API process's reply list, never
 * into BullMQ's return values (its event stream would keep them).
 */
export class PredictRunner {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<string, (response: PredictResponse) => void>();
  private closed = false;

  constructor(
    private readonly config: Config,
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  /** The predict process's pid (forked on first use). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private process_(): ChildProcess {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this.child;
    const c = this.config;
    const child = fork(CHILD.path, [c.TFJS_BACKEND, String(c.PREDICT_CACHE_MB)], {
      execArgv: [...CHILD.execArgv, `--max-old-space-size=${c.CHILD_MAX_MEMORY_MB}`],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (msg: PredictResponse) => {
      if (msg.type === 'ready') return;
      this.pending.get(msg.requestId)?.(msg);
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (!this.closed) this.log.warn({ code, signal }, 'predict process exited');
      // Whatever it was running is lost: answer those requests rather than let them time out.
      for (const [requestId, resolve] of this.pending) {
        resolve({ type: 'error', requestId, code: 'predict_failed', message: `the predict process exited (${signal ?? code})` });
      }
    });
    const init: PredictParentMessage = { type: 'init', store: artifactStoreSettings(c) };
    child.send(init);
    this.child = child;
    return child;
  }

  /** Forks the predict process ahead of the first request. */
  warmUp(): void {
    this.process_();
  }

  readonly process = async (job: Job<PredictJobData>): Promise<void> => {
    const { requestId, jobId, inputs, maxOutputValues, replyTo } = job.data;
    const response = await new Promise<PredictResponse>((resolve) => {
      this.pending.set(requestId, resolve);
      const request: PredictRequest = { type: 'predict', requestId, jobId, inputs, maxOutputValues };
      this.process_().send(request);
    });
    this.pending.delete(requestId);
    const reply: PredictReply =
      response.type === 'result'
        ? { requestId, outputs: response.outputs }
        : response.type === 'error'
          ? { requestId, error: { code: response.code, message: response.message, ...(response.details !== undefined ? { details: response.details } : {}) } }
          : { requestId, error: { code: 'predict_failed', message: 'unexpected answer from the predict process' } };
    // The list outlives no request: the API reads each reply once, and a list whose reader is
    // gone expires.
    await this.redis
      .multi()
      .rpush(replyTo, JSON.stringify(reply))
      .pexpire(replyTo, this.config.PREDICT_TIMEOUT_MS * 2)
      .exec();
  };

  close(): void {
    this.closed = true;
    this.child?.kill('SIGKILL');
  }
}
