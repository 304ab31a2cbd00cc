import type { BenchContext, Section } from './report';
export async function startup(_ctx: BenchContext): Promise<Section> {
  throw new Error('not written yet');
}
