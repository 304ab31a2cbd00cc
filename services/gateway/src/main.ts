import { runService } from '@msa/service-kit';
import { listening, service } from './service';

// The local runner shows the gateway's HTTPS address from the kit's `ready` message; the kit does not know it
// (nor the redirect-only port's), so they are added here on their way out.
const send = process.send?.bind(process);
if (send !== undefined) {
  process.send = ((message: unknown, ...rest: unknown[]) => {
    const m = message as { type?: string } | null;
    const out =
      m && m.type === 'ready' && listening.httpsUrl
        ? {
            ...m,
            httpsUrl: listening.httpsUrl,
            ...(listening.redirectPort === undefined
              ? {}
              : { redirectUrl: `http://127.0.0.1:${listening.redirectPort}` }),
          }
        : message;
    return (send as (...args: unknown[]) => boolean)(out, ...rest);
  }) as typeof process.send;
}

void runService(service);
