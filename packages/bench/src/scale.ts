import type { BenchContext, Section } from './report';
export async function scaleOut(_ctx: BenchContext): Promise<Section> {
  throw new Error('not written yet');
}
