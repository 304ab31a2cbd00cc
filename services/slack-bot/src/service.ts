import { defineService, errors, z, type ServiceContext } from '@msa/service-kit';
import { ErrorBursts, type ErrorLine, type FetchErrors } from './domain/error-bursts';
import { AlertGrouper } from './domain/grouper';
import { ConsoleNotifier, SlackNotifier, type Notifier } from './domain/notifier';
import { RegistryAlerts } from './domain/registry-alerts';
import { ReplayGuard } from './domain/slack-signature';
import { slackBotRoutes } from './routes';

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

export const slackBotConfig = {
  /** Unset: alerts are written to the console (log lines) instead. */
  SLACK_WEBHOOK_URL: optional(z.url()),
  /** Unset: the slash command answers 503 "not configured". */
  SLACK_SIGNING_SECRET: optional(z.string().min(8)),
  /** Linked from every alert: the gateway's /status as users reach it (default: npm start's address). */
  STATUS_PAGE_URL: optional(z.url()),
  /** Repeats of one alert within this window become one message with a count. */
  ALERT_WINDOW_MS: z.coerce.number().int().min(100).default(60_000),
  /** A service with no instance for this long is an alert (a rolling restart is not). */
  NO_INSTANCE_GRACE_MS: z.coerce.number().int().min(0).default(5_000),
  ERROR_BURST_THRESHOLD: z.coerce.number().int().min(1).default(5),
  ERROR_POLL_MS: z.coerce.number().int().min(1000).default(15_000),
};

export type SlackBotContext = ServiceContext<typeof slackBotConfig>;

export interface SlackBotParts {
  notifier: Notifier;
  grouper: AlertGrouper;
  registryAlerts: RegistryAlerts;
  errorBursts: ErrorBursts;
  replays: ReplayGuard;
  statusUrl: () => string;
}

export interface SlackBotOptions {
  /** Replaces the poll of the logging service (tests). */
  fetchErrors?: FetchErrors;
  /** Replaces where alerts go (tests). */
  notifier?: (ctx: SlackBotContext) => Notifier;
}

const parts = new WeakMap<object, SlackBotParts>();
export const partsOf = (ctx: object): SlackBotParts => {
  const p = parts.get(ctx);
  if (!p) throw new Error('slack-bot: not built yet');
  return p;
};

/** Error lines from the logging service, through the registry like any internal call. */
function logErrors(ctx: SlackBotContext): FetchErrors {
  return async (from, to) => {
    const qs = new URLSearchParams({ level: 'error', from, to, limit: '200', order: 'desc' });
    try {
      const res = await ctx.http.request<{ items: ErrorLine[] }>('logging', {
        method: 'GET',
        path: `/internal/logs?${qs}`,
        timeoutMs: 5000,
      });
      return res.status === 200 ? res.data.items : null;
    } catch (err) {
      if (err instanceof errors.AppError) return null; // no logging instance, or it is down
      throw err;
    }
  };
}

export function buildSlackBot(options: SlackBotOptions = {}) {
  return defineService({
    name: 'slack-bot',
    version: '0.1.0',
    config: slackBotConfig,
    redis: true, // replay protection shared by every bot instance, when REDIS_URL is set
    watchRegistry: true,
    routes: (ctx) => {
      const c = ctx.config;
      // The registry lists the gateway at its admin address, where /status is not served: the public
      // address is configuration (npm start and Compose set it).
      const statusUrl = () => c.STATUS_PAGE_URL ?? 'http://localhost:8080/status';
      const notifier =
        options.notifier?.(ctx) ??
        (c.SLACK_WEBHOOK_URL
          ? new SlackNotifier(c.SLACK_WEBHOOK_URL, ctx.logger)
          : new ConsoleNotifier(ctx.logger));
      const grouper = new AlertGrouper(notifier, c.ALERT_WINDOW_MS, (text, requestIds) => ({
        text: [
          text,
          requestIds.length ? `request ids: ${requestIds.map((id) => `\`${id}\``).join(', ')}` : '',
          `<${statusUrl()}|status page>`,
        ]
          .filter(Boolean)
          .join('\n'),
      }));
      const own: SlackBotParts = {
        notifier,
        grouper,
        statusUrl,
        registryAlerts: new RegistryAlerts(ctx.registry, grouper, c.NO_INSTANCE_GRACE_MS),
        errorBursts: new ErrorBursts(options.fetchErrors ?? logErrors(ctx), grouper, ctx.logger, {
          threshold: c.ERROR_BURST_THRESHOLD,
          intervalMs: c.ERROR_POLL_MS,
          lagMs: 5000,
        }),
        replays: new ReplayGuard(ctx.redis, c.REDIS_KEY_PREFIX),
      };
      parts.set(ctx, own);
      return slackBotRoutes(ctx, own);
    },
    onStart: async (ctx) => {
      const own = partsOf(ctx);
      own.registryAlerts.start();
      own.errorBursts.start();
      ctx.logger.info(
        {
          alertsTo: own.notifier.kind,
          slashCommand: ctx.config.SLACK_SIGNING_SECRET ? 'on' : 'not configured',
        },
        'slack-bot watching',
      );
      return async () => {
        own.registryAlerts.stop();
        own.grouper.stop();
        await own.errorBursts.stop();
      };
    },
  });
}

export const service = buildSlackBot();
