import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** files: TLS_CERT_FILE/TLS_KEY_FILE; reused: a dev certificate kept under DATA_DIR; generated: made now. */
  source: 'files' | 'reused' | 'generated';
  certPath?: string;
}

export interface TlsOptions {
  certFile?: string;
  keyFile?: string;
  /** Where a generated development certificate is kept; 'memory' keeps it in memory only. */
  dataDir: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The gateway's certificate: the operator's files when given; otherwise a self-signed development certificate for
 * localhost, made once and kept under DATA_DIR (git-ignored, never committed) so browsers are asked to trust it once.
 */
export async function loadTls(opts: TlsOptions): Promise<TlsMaterial> {
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile || !opts.keyFile)
      throw new Error('TLS_CERT_FILE and TLS_KEY_FILE must be given together');
    const [cert, key] = await Promise.all([readFile(opts.certFile, 'utf8'), readFile(opts.keyFile, 'utf8')]);
    return { cert, key, source: 'files', certPath: opts.certFile };
  }
  if (opts.dataDir === 'memory') return { ...(await generateDevCertificate()), source: 'generated' };

  const dir = path.resolve(opts.dataDir, 'tls');
  const certPath = path.join(dir, 'gateway-dev-cert.pem');
  const keyPath = path.join(dir, 'gateway-dev-key.pem');
  const kept = await readKept(certPath, keyPath);
  if (kept !== null) return { ...kept, source: 'reused', certPath };
  const made = await generateDevCertificate();
  await mkdir(dir, { recursive: true });
  await writeFile(keyPath, made.key, { mode: 0o600 });
  await writeFile(certPath, made.cert);
  return { ...made, source: 'generated', certPath };
}

async function readKept(certPath: string, keyPath: string): Promise<{ cert: string; key: string } | null> {
  try {
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    // Renewed a week before it lapses, so a long-running laptop setup never meets an expired certificate.
    if (Date.parse(new X509Certificate(cert).validTo) - Date.now() < 7 * DAY_MS) return null;
    return { cert, key };
  } catch {
    return null;
  }
}

export async function generateDevCertificate(): Promise<{ cert: string; key: string }> {
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - DAY_MS),
    notAfterDate: new Date(now.getTime() + 365 * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
