import { createHash } from 'node:crypto';
import { sha256Hex } from '../../../app/lib/sha256';

describe('sha256Hex', () => {
  it('matches createHash for ASCII and multi-byte text', () => {
    for (const s of ['', 'sk-llm-abc', 'héllo wörld ✓ 🚀']) {
      expect(sha256Hex(s)).toBe(createHash('sha256').update(s).digest('hex'));
    }
  });
});
