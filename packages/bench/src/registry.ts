import type { BenchContext, Section } from './report';
export async function registry(_ctx: BenchContext): Promise<Section> {
  throw new Error('not written yet');
}
