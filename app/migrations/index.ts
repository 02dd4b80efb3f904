// The SQL files are bundled as text (esbuild `.sql` loader; jest's transform does the same),
// so the container image needs nothing beside dist/server.js.
import m001 from './001_api_keys.sql';
import m002 from './002_usage.sql';
import m003 from './003_money.sql';
import m006 from './006_response_owners.sql';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  { version: 1, name: '001_api_keys', sql: m001 },
  { version: 2, name: '002_usage', sql: m002 },
  { version: 3, name: '003_money', sql: m003 },
  { version: 6, name: '006_response_owners', sql: m006 },
];
