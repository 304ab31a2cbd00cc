import { randomUUID } from 'node:crypto';

const SANE_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** A client's request id is kept when it is short and plain (it ends up in logs); anything else is replaced. */
export function resolveRequestId(clientValue: string | string[] | undefined): string {
  return typeof clientValue === 'string' && SANE_ID.test(clientValue) ? clientValue : randomUUID();
}
