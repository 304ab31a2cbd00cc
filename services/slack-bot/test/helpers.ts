import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startService, type InstanceRecord, type RunningService } from '@msa/service-kit';
import { testEnv } from '@msa/service-kit/testing';
import { buildSlackBot, partsOf, type SlackBotOptions, type slackBotConfig } from '../src/service';

export type SlackBot = RunningService<typeof slackBotConfig>;

export function startBot(
  env: Record<string, string | undefined> = {},
  options: SlackBotOptions = {},
): Promise<SlackBot> {
  return startService(buildSlackBot(options), { env: testEnv(env), waitReady: true });
}

export const parts = (bot: SlackBot) => partsOf(bot.ctx);

/** A local HTTP server standing in for Slack's incoming-webhook endpoint: records what is posted. */
export async function fakeSlack() {
  const posts: Array<{ text: string; [k: string]: unknown }> = [];
  const state = { status: 200 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (state.status === 200) posts.push(JSON.parse(body));
      res
        .writeHead(state.status, { 'content-type': 'text/plain' })
        .end(state.status === 200 ? 'ok' : 'no_service');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXXX`,
    posts,
    state,
    /** Until `n` messages arrived (bounded: fails after ~5 s). */
    async received(n: number) {
      for (let i = 0; i < 250 && posts.length < n; i++) await new Promise((r) => setTimeout(r, 20));
      if (posts.length < n) throw new Error(`expected ${n} Slack messages, got ${posts.length}`);
      return posts;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export const record = (service: string, instanceId: string): InstanceRecord => ({
  service,
  instanceId,
  address: `http://10.0.0.1:${3000 + instanceId.length}`,
  version: '1',
  routes: [],
  registeredAt: new Date().toISOString(),
  lastHeartbeatAt: new Date(Date.now() - 2000).toISOString(),
  leaseExpiresAt: new Date(Date.now() + 3000).toISOString(),
  stats: {
    cpuPercent: 12.4,
    rssBytes: 80 * 1048576,
    heapUsedBytes: 1,
    eventLoopLagMs: 1.2,
    inFlight: 3,
    uptimeSeconds: 300,
  },
});
