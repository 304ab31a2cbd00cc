import { readJson, signTestToken } from '@msa/service-kit/testing';
import { signSlackRequest } from '../src/domain/slack-signature';
import { statusText } from '../src/domain/status-text';
import { record, startBot, type SlackBot } from './helpers';

const SECRET = 'slack-signing-secret-for-tests';
const FORM =
  'token=x&team_id=T1&command=%2Fmsa&text=status&user_id=U1&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1';

describe(`the /msa slash command, verified by Slack's signature (replays remembered in ${process.env.REDIS_URL ? 'Redis' : 'memory'})`, () => {
  let bot: SlackBot;
  let token: string;

  beforeAll(async () => {
    bot = await startBot({ SLACK_SIGNING_SECRET: SECRET, STATUS_PAGE_URL: 'https://shop.example/status' });
    token = await signTestToken({ iss: 'gateway' });
  });
  afterAll(() => bot.stop());

  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${bot.url}/slack/commands`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-internal-token': token, ...headers },
    });
  const signed = (body = FORM, ts = String(Math.floor(Date.now() / 1000)), secret = SECRET) => ({
    'x-slack-request-timestamp': ts,
    'x-slack-signature': signSlackRequest(secret, ts, body),
  });

  it('when Slack signs the request, then it answers with the live status, only to the asker', async () => {
    const res = await post(FORM, signed());
    expect(res.status).toBe(200);
    const body = await readJson(res);
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('*msa status*');
    expect(body.text).toContain('<https://shop.example/status|status page>');
  });

  it('when the same signed request comes again, then it is refused as a replay', async () => {
    const headers = signed(FORM.replace('U1', 'U2'));
    expect((await post(FORM.replace('U1', 'U2'), headers)).status).toBe(200);
    const again = await post(FORM.replace('U1', 'U2'), headers);
    expect(again.status).toBe(401);
    expect((await readJson(again)).code).toBe('SIGNATURE_REPLAYED');
  });

  it.each([
    [
      'signed with another secret',
      () => signed(FORM, undefined, 'not-the-secret'),
      FORM,
      'SIGNATURE_INVALID',
    ],
    ['a body changed after signing', () => signed(FORM), FORM.replace('status', 'help'), 'SIGNATURE_INVALID'],
    [
      'a signature of another length',
      () => ({ ...signed(), 'x-slack-signature': 'v0=abc' }),
      FORM,
      'SIGNATURE_INVALID',
    ],
    [
      'a timestamp six minutes old',
      () => signed(FORM, String(Math.floor(Date.now() / 1000) - 360)),
      FORM,
      'SIGNATURE_STALE',
    ],
    [
      'a timestamp in the future',
      () => signed(FORM, String(Math.floor(Date.now() / 1000) + 360)),
      FORM,
      'SIGNATURE_STALE',
    ],
    [
      'a timestamp that is not a number',
      () => ({ ...signed(), 'x-slack-request-timestamp': '1e10' }),
      FORM,
      'SIGNATURE_STALE',
    ],
    ['no signature', () => ({}), FORM, 'SIGNATURE_MISSING'],
  ])('when a request has %s, then 401', async (_what, headers, body, code) => {
    const res = await post(body, headers());
    expect(res.status).toBe(401);
    expect((await readJson(res)).code).toBe(code);
  });

  it('when called without the internal token (not through the gateway), then 401', async () => {
    const res = await fetch(`${bot.url}/slack/commands`, { method: 'POST', body: FORM, headers: signed() });
    expect(res.status).toBe(401);
  });

  it('when no signing secret is configured, then 404 NOT_FOUND (the command is off, not a fault of the service)', async () => {
    const plain = await startBot();
    try {
      const res = await fetch(`${plain.url}/slack/commands`, {
        method: 'POST',
        body: FORM,
        headers: { 'x-internal-token': token, ...signed() },
      });
      expect(res.status).toBe(404);
      expect((await readJson(res)).code).toBe('NOT_FOUND');
    } finally {
      await plain.stop();
    }
  });
});

describe('the status text', () => {
  it('lists every service and instance with its figures, and a known service with none in red', () => {
    const services = new Map([
      ['gateway', [record('gateway', 'gateway-1')]],
      ['purchase', [record('purchase', 'purchase-1'), record('purchase', 'purchase-2')]],
    ]);
    const text = statusText(services, ['gateway', 'purchase', 'product'], 'http://localhost:8080/status');
    expect(text).toContain('3 services, 3 instances');
    expect(text).toContain(':large_green_circle: *purchase*: 2 instances');
    expect(text).toContain(
      '`purchase-2` cpu 12% · rss 80 MB · lag 1 ms · 3 in flight · up 5 min · heartbeat 2 s ago',
    );
    expect(text).toContain(':red_circle: *product*: no instance');
  });
});
