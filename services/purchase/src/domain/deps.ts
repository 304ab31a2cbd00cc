import type { Logger } from '@msa/service-kit';
import type { ProductClient } from './product-client';
import type { PurchaseStore } from './store';

/** Faults a test may inject (config FAULT_INJECT); refused in production. */
export type Fault = 'crash-after-reserve' | 'crash-after-release';

/** The shop's purchase policy (config; docs/security.md, "Purchase limits", says why each default). */
export interface PurchasePolicy {
  /** Most units one purchase may take (at most the domain's MAX_QUANTITY). */
  maxQuantityPerOrder: number;
  /** Most units of one product one member may hold in open and completed purchases per window; 0 = no cap. */
  memberProductLimit: number;
  memberProductWindowMs: number;
  /** A purchase still pending this long after it was made is given up: its stock released, it failed. */
  holdExpiryMs: number;
}

export interface PurchaseDeps {
  store: PurchaseStore;
  product: ProductClient;
  logger: Logger;
  policy: PurchasePolicy;
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
