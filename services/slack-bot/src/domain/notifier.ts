import { IncomingWebhook } from '@slack/webhook';
import type { Logger } from '@msa/service-kit';

export interface Message {
  text: string;
}

/** Where alerts go: Slack's incoming webhook, or (none configured) the console as log lines. */
export interface Notifier {
  readonly kind: 'slack' | 'console';
  send(message: Message): Promise<void>;
}

/** Slack, through its official client: a timeout and two quick retries, then the alert is logged as lost. */
export class SlackNotifier implements Notifier {
  readonly kind = 'slack';
  private readonly webhook: IncomingWebhook;

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    this.webhook = new IncomingWebhook(url, {
      timeout: 5000,
      retryConfig: { retries: 2, minTimeout: 250, maxTimeout: 1000 },
    });
  }

  async send(message: Message): Promise<void> {
    try {
      await this.webhook.send({ text: message.text, unfurl_links: false });
    } catch (err) {
      // Slack down must not take the bot down: the alert still reaches the logs.
      this.logger.warn(
        { err: (err as Error).message, alert: message.text },
        'slack webhook failed; alert logged here instead',
      );
    }
  }
}

export class ConsoleNotifier implements Notifier {
  readonly kind = 'console';
  constructor(private readonly logger: Logger) {}
  async send(message: Message): Promise<void> {
    this.logger.warn({ alert: message.text }, 'alert (no SLACK_WEBHOOK_URL: logged instead of posted)');
  }
}
