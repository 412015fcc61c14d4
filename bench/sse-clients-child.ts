/**
 * SSE clients for the `sse` part, in a process of their own so their parsing does not run on the
 * API's event loop. Opens N streams to one job (at most `parallel` connecting at once), reports
 * when every stream has its first bytes, then for each `epoch` event records receipt time minus
 * the event id's millisecond part (the Redis XADD time, same machine clock) until every stream
 * ended or `deadlineMs` passed.
 */
import { Agent, get } from 'node:http';

interface Start {
  url: string;
  n: number;
  parallel: number;
  deadlineMs: number;
}

const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

process.once('message', async (m: Start) => {
  const latencies: number[] = [];
  let connected = 0;
  let ended = 0;
  let failed = 0;
  let completed = 0;
  const connectedAt: number[] = [];
  const t0 = performance.now();
  const allEnded = new Promise<void>((resolve) => {
    const onEnd = () => {
      ended++;
      if (ended === m.n) resolve();
    };
    const open = (): Promise<void> =>
      new Promise((ready) => {
        let first = true;
        let buffer = '';
        const req = get(m.url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const now = Date.now();
            if (first) {
              first = false;
              connected++;
              connectedAt.push(performance.now() - t0);
              ready();
            }
            buffer += chunk;
            let cut: number;
            while ((cut = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              const id = /^id: (\d+)-\d+$/m.exec(block);
              if (id && block.includes('\nevent: epoch')) latencies.push(now - Number(id[1]));
              if (block.includes('\nevent: completed')) completed++;
            }
          });
          res.on('end', onEnd);
          res.on('error', () => {});
        });
        req.on('error', () => {
          failed++;
          if (first) ready();
          onEnd();
        });
      });
    // A bounded number of connects in flight, so the listen backlog does not overflow.
    let next = 0;
    const lane = async () => {
      while (next < m.n) {
        next++;
        await open();
      }
    };
    void Promise.all(Array.from({ length: m.parallel }, lane)).then(() =>
      process.send!({ type: 'connected', connected, failed, seconds: (performance.now() - t0) / 1000 }),
    );
  });
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, m.deadlineMs).unref());
  process.on('message', async (msg: { type: string }) => {
    if (msg.type !== 'collect') return;
    await Promise.race([allEnded, deadline]);
    process.send!({ type: 'result', connected, failed, ended, completed, latencies }, () => process.exit(0));
  });
});
process.send!({ type: 'ready' });
