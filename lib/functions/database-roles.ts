/**
 * Custom resource handler (Lambda, in the VPC): connects to the database as the master user, whose
 * credentials it reads from Secrets Manager, and applies databaseRolesSql. The master secret never
 * leaves this function; the service's tasks log in as the roles it creates, with IAM tokens.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Client } from 'pg';
import { databaseRolesSql } from './database-roles-sql';

interface Event {
  RequestType: 'Create' | 'Update' | 'Delete';
  PhysicalResourceId?: string;
  ResourceProperties: {
    SecretArn: string;
    Host: string;
    Port: string;
    DatabaseName: string;
    AppUser: string;
    MigrationUser: string;
  };
}

export async function handler(event: Event): Promise<{ PhysicalResourceId: string }> {
  const p = event.ResourceProperties;
  const physicalId = `${p.DatabaseName}:${p.MigrationUser}:${p.AppUser}`;
  // The roles own the schema's objects by then; dropping them would drop the data with them.
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId ?? physicalId };

  const secret = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: p.SecretArn }));
  const master = JSON.parse(secret.SecretString ?? '{}') as { username: string; password: string };
  const client = new Client({
    host: p.Host,
    port: Number(p.Port),
    database: p.DatabaseName,
    user: master.username,
    password: master.password,
    // NODE_EXTRA_CA_CERTS points at the RDS certificate authorities the Lambda runtime ships.
    ssl: { rejectUnauthorized: true },
    connectionTimeoutMillis: 10_000,
    statement_timeout: 60_000,
  });
  await client.connect();
  try {
    for (const sql of databaseRolesSql({ appUser: p.AppUser, migrationUser: p.MigrationUser, databaseName: p.DatabaseName })) {
      await client.query(sql);
    }
  } finally {
    await client.end();
  }
  return { PhysicalResourceId: physicalId };
}
