import type { Logger } from '@msa/service-kit';
import type { ProductClient } from './product-client';
import type { PurchaseStore } from './store';

/** Faults a test may inject (config FAULT_INJECT); refused in production. */
export type Fault = 'crash-after-reserve' | 'crash-after-release';

export interface PurchaseDeps {
  store: PurchaseStore;
  product: ProductClient;
  logger: Logger;
  fault?: Fault;
}

/** Stands in for a process dying at that exact point: the handler stops and nothing after it runs. */
export class InjectedFault extends Error {
  constructor(fault: Fault) {
    super(`fault injected: ${fault}`);
  }
}

export interface Member {
  id: string;
  role: 'customer' | 'admin';
}
