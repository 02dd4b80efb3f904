/**
 * Reads a Secrets Manager secret once at boot. A JSON secret with a single field, or with
 * `api_key`/`key`/`value`, is unwrapped so either style of secret works.
 */
export async function readSecret(secretId: string, region?: string): Promise<string> {
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient(region ? { region } : {});
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    const raw = out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : '');
    return unwrapSecret(raw);
  } finally {
    client.destroy();
  }
}

export function unwrapSecret(raw: string): string {
  const text = raw.trim();
  if (!text.startsWith('{')) return text;
  try {
    const obj = JSON.parse(text) as Record<string, unknown>;
    for (const field of ['api_key', 'apiKey', 'key', 'value', 'password']) {
      if (typeof obj[field] === 'string') return obj[field] as string;
    }
    const values = Object.values(obj).filter((v): v is string => typeof v === 'string');
    if (values.length === 1) return values[0];
  } catch {
    // not JSON after all: use as is
  }
  return text;
}
