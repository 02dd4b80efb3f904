import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { KeyStore } from '../stores/keys';

/**
 * The newcomer's key: created on the first embedded start and written to DATA_DIR/dev-api-key
 * (mode 0600). The log says where it is, never what it is.
 */
export async function ensureDevKey(keys: KeyStore, dataDir: string, logger: Pick<Logger, 'info'>): Promise<string> {
  const file = join(dataDir, 'dev-api-key');
  if (!existsSync(file)) {
    const { key } = await keys.create({ name: 'development' });
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  }
  logger.info({ file }, `development API key is in ${file}`);
  return file;
}
