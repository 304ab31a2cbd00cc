import { errors, reply, type RouteDef } from '@msa/service-kit';
import { verifySlackRequest } from './domain/slack-signature';
import { statusText } from './domain/status-text';
import type { SlackBotContext, SlackBotParts } from './service';

const HELP = 'Usage: `/msa status`: every service and instance, live from the registry.';

export function slackBotRoutes(
  ctx: SlackBotContext,
  own: SlackBotParts,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): RouteDef<any, any, any>[] {
  return [
    {
      method: 'POST',
      path: '/slack/commands',
      // Public through the gateway with no member token: Slack proves itself with its request signature.
      public: true,
      auth: 'none',
      timeoutMs: 3000, // Slack waits three seconds for an answer
      rawBody: true,
      summary: 'Slack slash command (`/msa status`), verified by Slack request signature',
      handler: async ({ body, req }) => {
        const secret = ctx.config.SLACK_SIGNING_SECRET;
        // Off without a signing secret: a 404 like any route that is not there, before anything is read.
        // (A 503 here was logged at error level, raised slack-bot's own error-burst alert and counted
        // against the instance at the gateway, for anyone who posted here.)
        if (!secret)
          throw new errors.NotFoundError('the slash command is off (SLACK_SIGNING_SECRET is not set)');
        const verdict = await verifySlackRequest(
          secret,
          { timestamp: req.get('x-slack-request-timestamp'), signature: req.get('x-slack-signature') },
          body as Buffer,
          own.replays,
        );
        if (!verdict.ok) {
          ctx.logger.warn({ code: verdict.code }, 'slack command refused');
          throw new errors.UnauthorizedError(verdict.message, verdict.code);
        }
        const form = new URLSearchParams((body as Buffer).toString('utf8'));
        const words = (form.get('text') ?? '').trim().toLowerCase().split(/\s+/).filter(Boolean);
        const text =
          words.length === 0 || words[0] === 'status'
            ? statusText(ctx.registry.services(), own.registryAlerts.known.keys(), own.statusUrl())
            : HELP;
        // Ephemeral: only the person who asked sees it.
        return reply(200, { response_type: 'ephemeral', text });
      },
    },
  ];
}
