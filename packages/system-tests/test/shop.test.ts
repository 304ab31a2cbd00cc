// One shop (distributor, gateway, member, product, purchase as real processes) for two suites, so that it
// starts once: bad input at every door (issue 3), then a purchase end to end (issue 4). The suites change
// nothing the other one reads: each signs up members of its own.
import { badInputSuite } from './suites/bad-input';
import { purchaseSuite } from './suites/purchase';
import { startTestSystem, type TestSystem } from './support/system';

let ts: TestSystem;

beforeAll(async () => {
  // Two product instances: a stock change at one must be what a read at the other says.
  ts = await startTestSystem({ only: ['gateway', 'member', 'product', 'purchase'], scale: { product: 2 } });
}, 120_000);

afterAll(() => ts?.stop(), 60_000);

describe('bad input', () => badInputSuite(() => ts));
describe('a purchase end to end through the gateway', () => purchaseSuite(() => ts));
