import path from 'node:path';
import { buildDocument } from './document';

/** docs/openapi.json at the repository root (the same from src/ under Jest and from dist/). */
export const documentPath = path.resolve(__dirname, '..', '..', '..', 'docs', 'openapi.json');

/** The document as the repository keeps it: formatted by the repo's Prettier settings, so `prettier --check` passes. */
export async function renderDocument(): Promise<string> {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(documentPath)) ?? {};
  return prettier.format(JSON.stringify(buildDocument()), { ...options, parser: 'json' });
}
