import { databasePassword, iamAuthToken } from '../../../app/stores/db';

describe('Postgres IAM authentication', () => {
  const saved = { ...process.env };
  beforeAll(() => {
    // Static credentials for the SDK's default chain: signing is local, no AWS call is made.
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    delete process.env.AWS_PROFILE;
  });
  afterAll(() => {
    process.env = saved;
  });

  it('signs a fresh connect token for the host, port and user on every call', async () => {
    const token = iamAuthToken({ hostname: 'db.example.internal', port: 5532, username: 'llmapi_app', region: 'us-east-1' });
    const first = await token();
    expect(first).toMatch(/^db\.example\.internal:5532\/\?Action=connect&DBUser=llmapi_app&X-Amz-/);
    expect(first).toContain('X-Amz-Expires=900');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await token()).not.toBe(first);
  });

  it('DATABASE_IAM_AUTH=true gives pg a password callback; off, pg uses PGPASSWORD or the URL', () => {
    const base = { PGHOST: 'db.example.internal', PGPORT: 5532, PGUSER: 'llmapi_app', AWS_REGION: 'us-east-1' };
    expect(databasePassword({ ...base, DATABASE_IAM_AUTH: false })).toBeUndefined();
    expect(typeof databasePassword({ ...base, DATABASE_IAM_AUTH: true })).toBe('function');
  });

  it('fails without PGHOST or PGUSER, naming both', () => {
    expect(() => databasePassword({ DATABASE_IAM_AUTH: true, PGHOST: 'h', PGPORT: 5432, PGUSER: undefined, AWS_REGION: undefined })).toThrow(
      /DATABASE_IAM_AUTH=true needs PGHOST and PGUSER/,
    );
  });
});
