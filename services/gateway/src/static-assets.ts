import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { securityHeaders } from './proxy/headers';

/**
 * The gateway's own pages (/status, /docs) are a few files read once at start and served from memory, with
 * one strict policy: their own scripts and styles, calls to this origin only, data: images (Swagger UI's
 * icons), never framed.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface Asset {
  body: Buffer;
  type: string;
}

export function readAsset(file: string, type: string): Asset {
  return { body: readFileSync(file), type };
}

/** 200 with the file (no body for HEAD), revalidated on every load so a new gateway's files show at once. */
export function sendAsset(
  res: ServerResponse,
  method: string,
  asset: Asset,
  requestId: string,
  secure: boolean,
): void {
  res.writeHead(200, [
    'content-type',
    asset.type,
    'content-length',
    String(asset.body.length),
    'cache-control',
    'no-cache',
    'content-security-policy',
    PAGE_CSP,
    'x-request-id',
    requestId,
    ...securityHeaders(secure),
  ]);
  res.end(method === 'HEAD' ? undefined : asset.body);
}
