import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

// Every manifest under infra/k8s, validated offline against the Kubernetes OpenAPI schemas that
// kubernetes-models bundles (one generated validator per kind), plus the promises docs/deployment.md makes.
const root = path.resolve(__dirname, '..', '..', '..');
const dir = path.join(root, 'infra', 'k8s');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: any };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const kustomization: any = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
const resourceFiles: string[] = kustomization.resources;
const manifests: { file: string; doc: Manifest }[] = resourceFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(dir, file), 'utf8')).map((d) => {
    expect(d.errors).toEqual([]);
    return { file, doc: d.toJS() as Manifest };
  }),
);
const ofKind = (kind: string) => manifests.map((m) => m.doc).filter((d) => d.kind === kind);
const serviceFolders = readdirSync(path.join(root, 'services')).filter((name) =>
  existsSync(path.join(root, 'services', name, 'src', 'main.ts')),
);

/** The kubernetes-models class for a manifest: core kinds under v1/, the others under <group>/<version>/. */
function modelOf(doc: Manifest): new (data: unknown) => { validate(): void } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(`kubernetes-models/${doc.apiVersion}/${doc.kind}`);
  return mod[doc.kind];
}

function validationError(doc: Manifest): string | null {
  const Model = modelOf(doc);
  try {
    new Model(doc).validate();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('infra/k8s', () => {
  it('lists every manifest file in kustomization.yaml, and only existing ones', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...resourceFiles].sort()).toEqual(files.sort());
    expect(kustomization.secretGenerator[0].envs).toEqual(['secrets.env']);
  });

  it.each(manifests.map((m) => [`${m.file}: ${m.doc.kind}/${m.doc.metadata?.name}`, m.doc]))(
    'validates against the Kubernetes schema: %s',
    (_name, doc) => {
      expect(validationError(doc as Manifest)).toBeNull();
    },
  );

  it('rejects a manifest that breaks the schema (the validator does validate)', () => {
    const deployment = structuredClone(ofKind('Deployment')[0]!);
    deployment.spec.replicas = 'two';
    expect(validationError(deployment)).toMatch(/replicas/);
  });

  it('runs every service folder that has a main as a Deployment with a Service', () => {
    const deployments = ofKind('Deployment').map((d) => d.metadata.name);
    const services = ofKind('Service').map((s) => s.metadata.name);
    for (const name of serviceFolders) {
      expect({ name, deployment: deployments.includes(name), service: services.includes(name) }).toEqual({
        name,
        deployment: true,
        service: true,
      });
    }
  });

  it('probes the health routes and sets requests and limits on every container', () => {
    for (const d of [...ofKind('Deployment'), ...ofKind('StatefulSet')]) {
      for (const c of d.spec.template.spec.containers) {
        expect({ name: c.name, requests: c.resources?.requests, limits: c.resources?.limits }).toEqual({
          name: c.name,
          requests: { cpu: expect.anything(), memory: expect.anything() },
          limits: { cpu: expect.anything(), memory: expect.anything() },
        });
        expect(c.readinessProbe).toBeDefined();
        expect(c.livenessProbe).toBeDefined();
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
    for (const d of ofKind('Deployment')) {
      const c = d.spec.template.spec.containers[0];
      expect(c.readinessProbe.httpGet.path).toBe('/health/ready');
      expect(c.livenessProbe.httpGet.path).toBe('/health/live');
      // Each replica advertises its own pod IP to the registry.
      expect(c.env.find((e: { name: string }) => e.name === 'ADVERTISE_URL').value).toBe(
        'http://$(POD_IP):8080',
      );
    }
  });

  it('exposes the gateway only, autoscales purchase, and keeps Postgres and Redis in StatefulSets', () => {
    const exposed = ofKind('Service').filter(
      (s) => s.spec.type === 'LoadBalancer' || s.spec.type === 'NodePort',
    );
    expect(exposed.map((s) => s.spec.selector['app.kubernetes.io/name'])).toEqual(['gateway']);
    expect(ofKind('Ingress')).toEqual([]);
    expect(ofKind('HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name)).toEqual(['purchase']);
    expect(
      ofKind('StatefulSet')
        .map((s) => s.metadata.name)
        .sort(),
    ).toEqual(['postgres', 'redis']);
  });

  it('mirrors the Compose networks in NetworkPolicies: data only for pods that use it, never the gateway', () => {
    const policies = ofKind('NetworkPolicy');
    expect(policies.find((p) => p.metadata.name === 'default-deny-ingress')?.spec.podSelector).toEqual({});
    const labelsOf = (name: string) =>
      ofKind('Deployment').find((d) => d.metadata.name === name)!.spec.template.metadata.labels;
    expect(labelsOf('gateway')['msa/network-data']).toBeUndefined();
    expect(labelsOf('gateway')['msa/network-public']).toBe('true');
    for (const name of ['member', 'product', 'purchase']) {
      expect(labelsOf(name)['msa/network-public']).toBeUndefined();
      expect(labelsOf(name)['msa/network-data']).toBe('true');
    }
  });

  it('hands each pod only its own secrets, as files under the names Compose uses, never in its environment', () => {
    // Compose's grants: the '<consumer>: <secret> …' arguments of its secrets one-shot.
    const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'));
    const grants = Object.fromEntries(
      (compose.services.secrets.command as string[])
        .filter((arg) => /^[a-z0-9-]+:/.test(arg))
        .map((arg) => [arg.split(':')[0], arg.split(':')[1]!.trim().split(/\s+/)]),
    );
    const workloads = [...ofKind('Deployment'), ...ofKind('StatefulSet')];
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual(Object.keys(grants).sort());
    for (const w of workloads) {
      const spec = w.spec.template.spec;
      const volume = spec.volumes.find((v: Manifest) => v.name === 'secrets');
      expect({ name: w.metadata.name, secretName: volume?.secret?.secretName }).toEqual({
        name: w.metadata.name,
        secretName: 'msa-secrets',
      });
      const items = volume.secret.items.map((i: { key: string; path: string }) => {
        expect(i.path).toBe(i.key);
        return i.key;
      });
      expect({ name: w.metadata.name, items: [...items].sort() }).toEqual({
        name: w.metadata.name,
        items: [...grants[w.metadata.name]!].sort(),
      });
      const container = spec.containers[0];
      expect(container.volumeMounts).toContainEqual({
        name: 'secrets',
        mountPath: '/run/secrets',
        readOnly: true,
      });
      // Every *_FILE points at one of its own files.
      const config = ofKind('ConfigMap').find((c) => c.metadata.name === 'msa-config')!.data;
      const fromConfig = (container.envFrom ?? []).length ? Object.entries(config) : [];
      const env = [...fromConfig, ...(container.env ?? []).map((e: Manifest) => [e.name, e.value])];
      for (const [key, value] of env.filter(
        ([k]) => String(k).endsWith('_PASSWORD_FILE') || String(k).endsWith('SECRET_FILE'),
      )) {
        expect({ name: w.metadata.name, key, granted: items.includes(path.basename(String(value))) }).toEqual(
          {
            name: w.metadata.name,
            key,
            granted: true,
          },
        );
      }
    }
    const text = resourceFiles.map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n');
    expect(text).not.toMatch(/secretKeyRef/); // no secret in any environment
    expect(text).not.toMatch(/:\/\/[^/@\s]*:[^/@\s]*@/); // no password in any URL
    expect(ofKind('Secret')).toEqual([]); // never committed: generated from the git-ignored secrets.env
    // infra/k8s/make-secrets.sh writes every key the pods read.
    const script = readFileSync(path.join(dir, 'make-secrets.sh'), 'utf8');
    for (const key of new Set(Object.values(grants).flat())) expect(script).toContain(key);
  });

  it('initialises Postgres with the same script as Compose', () => {
    const init = ofKind('ConfigMap').find((c) => c.metadata.name === 'postgres-init');
    expect(init?.data['10-init-databases.sh']).toBe(
      readFileSync(path.join(root, 'infra', 'postgres', 'init-databases.sh'), 'utf8'),
    );
  });
});
