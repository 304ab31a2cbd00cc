import { planServices, UsageError, discoverServices, type ServiceDef } from '../src/services';
import { addService, makeRoot } from './fake-services';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function def(name: string): ServiceDef {
  const role = name === 'distributor' || name === 'gateway' ? name : 'service';
  return { name, dir: `/s/${name}`, main: `/s/${name}/dist/main.js`, role, hasDatabase: false };
}
const all = ['gateway', 'member', 'distributor', 'purchase'].map(def);
const names = (plan: { name: string; count: number }[]) => plan.map((s) => `${s.name}×${s.count}`);

describe('which services start', () => {
  test('when nothing is asked, then every service starts once, the distributor first', () => {
    expect(names(planServices(all, {}))).toEqual(['distributor×1', 'gateway×1', 'member×1', 'purchase×1']);
  });

  test('when a service is scaled, then it gets that many instances, and 0 leaves it out', () => {
    expect(names(planServices(all, { scale: { purchase: 3, member: 0 } }))).toEqual([
      'distributor×1',
      'gateway×1',
      'purchase×3',
    ]);
  });

  test('when --only names services, then those start with the distributor', () => {
    expect(names(planServices(all, { only: ['member'] }))).toEqual(['distributor×1', 'member×1']);
  });

  test.each([
    [
      { only: ['billing'] },
      '--only: there is no service "billing" (services: gateway, member, distributor, purchase)',
    ],
    [{ scale: { billing: 2 } }, '--scale: there is no service "billing"'],
    [
      { scale: { gateway: 2 } },
      '--scale gateway=2: the gateway listens on a fixed port, so it runs once here',
    ],
    [{ scale: { distributor: 3 } }, 'the distributor listens on a fixed port'],
    [{ scale: { purchase: 33 } }, '--scale purchase=33: the count must be a whole number from 0 to 32'],
    [{ scale: { purchase: 1.5 } }, 'the count must be a whole number'],
    [{ only: ['product'], unbuilt: ['product'] }, '--only: product has no dist/main.js yet (build it first)'],
  ])('when asked for %j, then a usage error explains why not', (request, message) => {
    expect(() => planServices(all, request)).toThrow(UsageError);
    expect(() => planServices(all, request)).toThrow(message);
  });
});

describe('finding services', () => {
  test('when a service folder has a build, then it is found, with its role and whether it owns a database', () => {
    const root = makeRoot({ gateway: {}, member: { database: true } });
    try {
      // A folder without dist/main.js is not started, and one without package.json is not a service at all.
      mkdirSync(path.join(root.rootDir, 'services', 'product'), { recursive: true });
      writeFileSync(path.join(root.rootDir, 'services', 'product', 'package.json'), '{}');
      mkdirSync(path.join(root.rootDir, 'services', 'notes'), { recursive: true });
      addService(root.rootDir, 'distributor');

      const { services, unbuilt } = discoverServices(root.rootDir);

      expect(services.map((s) => [s.name, s.role, s.hasDatabase])).toEqual([
        ['distributor', 'distributor', false],
        ['gateway', 'gateway', false],
        ['member', 'service', true],
      ]);
      expect(unbuilt).toEqual(['product']);
    } finally {
      root.cleanup();
    }
  });

  test('when there is no services folder, then nothing is found', () => {
    expect(discoverServices('/nonexistent-msa-root')).toEqual({ services: [], unbuilt: [] });
  });
});
