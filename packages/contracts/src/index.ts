// @msa/contracts: what two services must agree on, written once.
export * from './shop-limits';
