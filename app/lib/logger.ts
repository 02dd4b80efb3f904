import pino, { type Logger } from 'pino';

/**
 * Header and config paths that can hold a secret. Redaction is a second line of defence: request
 * headers are not logged in the first place.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  'authorization',
  'apiKey',
  'key',
  'config.OPENAI_API_KEY',
  'config.ADMIN_API_KEY',
  'config.REDIS_PASSWORD',
  'config.DATABASE_URL',
  'OPENAI_API_KEY',
  'ADMIN_API_KEY',
  'REDIS_PASSWORD',
  'DATABASE_URL',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ sync: false }),
  );
}
