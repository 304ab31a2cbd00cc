import { capturedLogger } from '@msa/service-kit/testing';
import { ConsoleNotifier } from '../src/domain/notifier';
import { fakeSlack, parts, record, startBot, type SlackBot } from './helpers';

const STATUS = 'https://shop.example/status';

describe('alerts posted to a Slack incoming webhook (a local HTTP server stands in for Slack)', () => {
  let slack: Awaited<ReturnType<typeof fakeSlack>>;
  let bot: SlackBot;
  const registry = () => bot.ctx.registry;

  beforeEach(async () => {
    slack = await fakeSlack();
    bot = await startBot(
      {
        SLACK_WEBHOOK_URL: slack.url,
        STATUS_PAGE_URL: STATUS,
        ALERT_WINDOW_MS: '1000',
        NO_INSTANCE_GRACE_MS: '0',
        ERROR_BURST_THRESHOLD: '3',
      },
      {
        fetchErrors: async () => [
          {
            id: '1',
            time: new Date(Date.now() - 9000).toISOString(),
            service: 'purchase',
            message: 'db timeout',
            requestId: 'req-a',
          },
          {
            id: '2',
            time: new Date(Date.now() - 9500).toISOString(),
            service: 'purchase',
            message: 'db timeout',
            requestId: 'req-b',
          },
          {
            id: '3',
            time: new Date(Date.now() - 9900).toISOString(),
            service: 'purchase',
            message: 'db timeout',
            requestId: 'req-a',
          },
          {
            id: '4',
            time: new Date(Date.now() - 9900).toISOString(),
            service: 'member',
            message: 'one error',
          },
        ],
      },
    );
  });
  afterEach(async () => {
    await bot.stop();
    await slack.close();
  });

  it('when an instance is lost, then Slack gets a message naming it, with the status page link', async () => {
    registry().emit('down', { instanceId: 'purchase-a', service: 'purchase', reason: 'lease-expired' });
    const [msg] = await slack.received(1);
    expect(msg!.text).toContain(
      '*purchase*: instance `purchase-a` lost — it stopped sending heartbeats; 0 instances left',
    );
    expect(msg!.text).toContain(`<${STATUS}|status page>`);
  });

  it('when an instance leaves cleanly (deregistered), then it is no alert', async () => {
    registry().emit('down', { instanceId: 'purchase-a', service: 'purchase', reason: 'deregistered' });
    registry().emit('down', { instanceId: 'member-a', service: 'member', reason: 'lease-expired' });
    const posts = await slack.received(1);
    expect(posts.map((p) => p.text).join('\n')).not.toContain('purchase');
  });

  it('when the same alert repeats within the window, then one message goes at once and one with the count after', async () => {
    for (let i = 0; i < 5; i++) {
      registry().emit('down', { instanceId: `purchase-${i}`, service: 'purchase', reason: 'lease-expired' });
    }
    const posts = await slack.received(2);
    expect(posts[0]!.text).toContain('`purchase-0` lost');
    expect(posts[1]!.text).toContain('`purchase-4` lost');
    expect(posts[1]!.text).toContain('4 more times in the last 1 s');
    expect(posts).toHaveLength(2);
  });

  it('when a lost instance is replaced, then Slack hears it is back', async () => {
    registry().emit('down', { instanceId: 'purchase-a', service: 'purchase', reason: 'lease-expired' });
    registry().emit('up', record('purchase', 'purchase-b'));
    const posts = await slack.received(2);
    expect(posts[1]!.text).toContain('`purchase-b` is up (replacing a lost one)');
  });

  it('when a service is left with no instance, then an alert says so, and another when it is back', async () => {
    registry().emit('change', new Map([['product', [record('product', 'product-a')]]]));
    registry().emit('change', new Map());
    const [none] = await slack.received(1);
    expect(none!.text).toContain('*product* has no healthy instance');
    registry().emit('change', new Map([['product', [record('product', 'product-b')]]]));
    const posts = await slack.received(2);
    expect(posts[1]!.text).toContain('*product* has 1 instance again');
  });

  it('when a service logs a burst of errors, then one alert carries the count and the request ids to look up', async () => {
    await parts(bot).errorBursts.tick(Date.now() + 60_000);
    const [msg] = await slack.received(1);
    expect(msg!.text).toContain('*purchase*: 3 errors');
    expect(msg!.text).toContain('request ids: `req-a`, `req-b`');
    expect(msg!.text).not.toContain('member'); // one error is below the threshold
  });

  it('when Slack answers an error, then the bot goes on (the alert is logged instead)', async () => {
    slack.state.status = 500;
    await parts(bot).notifier.send({ text: 'x' });
    slack.state.status = 200;
    registry().emit('down', { instanceId: 'member-a', service: 'member', reason: 'lease-expired' });
    expect((await slack.received(1))[0]!.text).toContain('member');
  });
});

describe('without SLACK_WEBHOOK_URL', () => {
  it('when an alert is raised, then it is written as a log line', async () => {
    const { logger, lines } = capturedLogger('slack-bot');
    await new ConsoleNotifier(logger).send({ text: ':red_circle: purchase lost' });
    expect(lines[0]).toMatchObject({ level: 'warn', alert: ':red_circle: purchase lost' });
  });

  it('when the bot starts, then it alerts to the console', async () => {
    const bot = await startBot();
    try {
      expect(parts(bot).notifier.kind).toBe('console');
    } finally {
      await bot.stop();
    }
  });
});
