import { STAGES, StageConfig, StageName } from '../../lib/config';
import { getStageConfig, validateStageConfig, withContext } from '../../lib/validate-config';

const DOMAIN = { domainName: 'llm.example.com', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc-123' };

const patch = (name: StageName, change: (c: StageConfig) => StageConfig) => change(structuredClone(STAGES[name]));

describe('stage configs', () => {
  test.each(['dev', 'staging'] as const)('%s is valid without any context', (name) => {
    expect(getStageConfig(name)).toBe(STAGES[name]);
  });

  test('prod is valid once given a domain and certificate', () => {
    expect(getStageConfig('prod', DOMAIN).loadBalancer.domain).toEqual({ ...DOMAIN, hostedZone: undefined });
  });

  test('fails on prod without a domain, naming what to set', () => {
    expect(() => getStageConfig('prod')).toThrow(
      /prod: serves HTTPS only and needs a domain and an ACM certificate: set loadBalancer\.domain in lib\/config\.ts, or pass -c domainName=.* -c certificateArn=/,
    );
  });

  test('stages differ only in data: same shape everywhere', () => {
    const keys = (c: StageConfig) => Object.keys(c).filter((k) => !['account', 'region', 'availabilityZones'].includes(k)).sort();
    expect(keys(STAGES.staging)).toEqual(keys(STAGES.dev));
    expect(keys(STAGES.prod)).toEqual(keys(STAGES.dev));
  });

  test('prod is sized for production: HA everywhere, stronger alarm budgets', () => {
    const { prod, dev } = STAGES;
    expect(prod.database.multiAz && prod.database.deletionProtection).toBe(true);
    expect(prod.cache.replicas).toBeGreaterThanOrEqual(1);
    expect(prod.service.minTasks).toBeGreaterThanOrEqual(2);
    expect(prod.monitoring.thresholds.http5xxRatePercent).toBeLessThan(dev.monitoring.thresholds.http5xxRatePercent);
    expect(prod.availabilityZones).toHaveLength(2);
  });

  test('every stage routes at least one model name to Bedrock', () => {
    for (const c of Object.values(STAGES)) {
      const bedrock = Object.entries(c.routing.providers).filter(([, p]) => p.type === 'bedrock').map(([n]) => n);
      const routed = Object.values(c.routing.models).flatMap((m) => m.deployments).filter((d) => bedrock.includes(d.provider));
      expect(routed.length).toBeGreaterThan(0);
    }
  });

  test('the admin API is closed to every source by default', () => {
    for (const c of Object.values(STAGES)) expect(c.loadBalancer.adminAllowedCidrs).toEqual([]);
  });

  test('a 2-minute stream survives a deploy: the ALB drains that long before SIGTERM', () => {
    for (const c of Object.values(STAGES)) {
      expect(c.service.longestStreamSeconds).toBeGreaterThanOrEqual(120);
      expect(c.loadBalancer.deregistrationDelaySeconds).toBeGreaterThanOrEqual(c.service.longestStreamSeconds);
    }
  });

  test('stop timeout leaves the app its drain time', () => {
    for (const c of Object.values(STAGES)) {
      expect(c.service.stopTimeoutSeconds * 1000).toBeGreaterThan(c.service.shutdownGraceMs);
    }
  });
});

describe('validation', () => {
  test('fails on an unknown stage name', () => {
    expect(() => getStageConfig('qa')).toThrow('stage "qa" is unknown: pass -c stage=NAME with NAME one of dev, staging, prod');
  });

  test('fails on a missing stage name', () => {
    expect(() => getStageConfig(undefined)).toThrow(/^stage missing/);
  });

  test.each<[string, StageName, (c: StageConfig) => StageConfig, RegExp]>([
    ['a stop timeout not above the drain time', 'dev', (c) => ({ ...c, service: { ...c.service, shutdownGraceMs: 25_000, stopTimeoutSeconds: 25 } }), /service\.stopTimeoutSeconds \(25\) must exceed shutdownGraceMs \(25000 ms\).*set it to 30 or more/],
    ['a stop timeout above the ECS maximum', 'dev', (c) => ({ ...c, service: { ...c.service, stopTimeoutSeconds: 121 } }), /service\.stopTimeoutSeconds is 121; ECS allows 2 to 120/],
    ['an idle timeout too short for streams', 'dev', (c) => ({ ...c, loadBalancer: { ...c.loadBalancer, idleTimeoutSeconds: 60 } }), /loadBalancer\.idleTimeoutSeconds is 60; streamed answers need 300/],
    ['the default PostgreSQL port', 'dev', (c) => ({ ...c, database: { ...c.database, port: 5432 } }), /database\.port is 5432/],
    ['the default Redis port', 'dev', (c) => ({ ...c, cache: { ...c.cache, port: 6379 } }), /cache\.port is 6379/],
    ['a memory size Fargate does not offer', 'dev', (c) => ({ ...c, service: { ...c.service, cpu: 256, memoryMiB: 4096 } }), /service\.memoryMiB 4096 is not a Fargate size for cpu 256/],
    ['an unknown Fargate CPU size', 'dev', (c) => ({ ...c, service: { ...c.service, cpu: 300 } }), /service\.cpu is 300/],
    ['maxTasks below minTasks', 'staging', (c) => ({ ...c, service: { ...c.service, minTasks: 3, maxTasks: 2 } }), /service\.maxTasks \(2\) must be at least minTasks \(3\)/],
    ['three NAT gateways', 'dev', (c) => ({ ...c, network: { ...c.network, natGateways: 3 } }), /network\.natGateways is 3; use 1 or 2/],
    ['a malformed CIDR', 'dev', (c) => ({ ...c, network: { ...c.network, cidr: '10.0.0.0/8' } }), /network\.cidr "10\.0\.0\.0\/8" must be an IPv4 range from \/16 to \/20/],
    ['an instance type with the db. prefix', 'dev', (c) => ({ ...c, database: { ...c.database, instanceType: 'db.t4g.micro' } }), /database\.instanceType "db\.t4g\.micro"/],
    ['a cache node type without cache.', 'dev', (c) => ({ ...c, cache: { ...c.cache, nodeType: 't4g.micro' } }), /cache\.nodeType "t4g\.micro" must start with "cache\."/],
    ['a bad alarm e-mail', 'staging', (c) => ({ ...c, monitoring: { ...c.monitoring, alarmEmails: ['oncall'] } }), /monitoring\.alarmEmails entry "oncall" is not an e-mail address/],
    ['a negative threshold', 'dev', (c) => ({ ...c, monitoring: { ...c.monitoring, thresholds: { ...c.monitoring.thresholds, dbConnections: -1 } } }), /monitoring\.thresholds\.dbConnections is -1/],
    ['a certificate that is not an ACM ARN', 'prod', (c) => ({ ...c, loadBalancer: { ...c.loadBalancer, domain: { domainName: 'llm.example.com', certificateArn: 'my-cert' } } }), /loadBalancer\.domain\.certificateArn "my-cert" is not an ACM certificate ARN/],
    ['an admin range that is the whole internet', 'dev', (c) => ({ ...c, loadBalancer: { ...c.loadBalancer, adminAllowedCidrs: ['0.0.0.0/0'] } }), /loadBalancer\.adminAllowedCidrs entry "0\.0\.0\.0\/0"/],
    ['a malformed admin range', 'dev', (c) => ({ ...c, loadBalancer: { ...c.loadBalancer, adminAllowedCidrs: ['10.0.0.1'] } }), /loadBalancer\.adminAllowedCidrs entry "10\.0\.0\.1" must be an IPv4 range/],
    ['a deregistration delay shorter than the longest stream', 'dev', (c) => ({ ...c, loadBalancer: { ...c.loadBalancer, deregistrationDelaySeconds: 30 } }), /loadBalancer\.deregistrationDelaySeconds is 30; use 120/],
    ['a route to an undefined provider', 'dev', (c) => ({ ...c, routing: { ...c.routing, models: { x: { deployments: [{ provider: 'nope' }] } } } }), /routing\.models\.x uses provider "nope"/],
    ['a provider with both key sources', 'dev', (c) => ({ ...c, routing: { ...c.routing, providers: { ...c.routing.providers, openai: { type: 'openai', base_url: 'https://x/v1', api_key_env: 'A', api_key_secret_id: 'b' } } } }), /routing\.providers\.openai names both/],
    ['a global Bedrock inference profile', 'dev', (c) => ({ ...c, routing: { ...c.routing, models: { x: { deployments: [{ provider: 'bedrock', model: 'global.anthropic.claude-sonnet-4-5-20250929-v1:0' }] } } } }), /Bedrock model "global\.anthropic.*" is a global inference profile/],
    ['prod logs kept less than a year', 'prod', (c) => ({ ...c, service: { ...c.service, logRetention: 90 } }), /prod: service\.logRetention and network\.flowLogRetention must be at least RetentionDays\.ONE_YEAR/],
    ['a WAF rate limit below 10', 'prod', (c) => ({ ...c, loadBalancer: { ...c.loadBalancer, waf: { rateLimitPer5Minutes: 5 } } }), /loadBalancer\.waf\.rateLimitPer5Minutes is 5/],
    ['a malformed account id', 'dev', (c) => ({ ...c, account: '1234' }), /account "1234" must be a 12-digit AWS account id/],
    ['a malformed region', 'dev', (c) => ({ ...c, region: 'europe' }), /region "europe" is not an AWS region name/],
    ['availability zones outside the region', 'dev', (c) => ({ ...c, region: 'eu-west-1', availabilityZones: ['eu-west-1a', 'us-east-1b'] }), /availability zone "us-east-1b" is not in region eu-west-1/],
    ['one availability zone', 'dev', (c) => ({ ...c, availabilityZones: ['us-east-1a'] }), /availabilityZones \[us-east-1a\] must list exactly two different zones/],
    ['prod without Multi-AZ', 'prod', (c) => ({ ...c, database: { ...c.database, multiAz: false } }), /prod: database\.multiAz must be true/],
    ['prod without deletion protection', 'prod', (c) => ({ ...c, database: { ...c.database, deletionProtection: false } }), /prod: database\.deletionProtection must be true/],
    ['prod with 3 days of backups', 'prod', (c) => ({ ...c, database: { ...c.database, backupRetentionDays: 3 } }), /prod: database\.backupRetentionDays is 3; keep at least 7/],
    ['prod dropping the database on removal', 'prod', (c) => ({ ...c, database: { ...c.database, removalPolicy: 'destroy' } }), /prod: database\.removalPolicy must be "snapshot" or "retain"/],
    ['prod without a cache replica', 'prod', (c) => ({ ...c, cache: { ...c.cache, replicas: 0 } }), /prod: cache\.replicas must be at least 1/],
    ['prod with one task', 'prod', (c) => ({ ...c, service: { ...c.service, minTasks: 1 } }), /prod: service\.minTasks is 1; run at least 2 tasks/],
    ['prod with one NAT gateway', 'prod', (c) => ({ ...c, network: { ...c.network, natGateways: 1 } }), /prod: network\.natGateways must be 2/],
    ['prod without ALB deletion protection', 'prod', (c) => ({ ...c, loadBalancer: { ...c.loadBalancer, deletionProtection: false } }), /prod: loadBalancer\.deletionProtection must be true/],
  ])('fails on %s', (_what, name, change, message) => {
    // Prod needs its domain first, as `cdk synth -c domainName=… -c certificateArn=…` gives it.
    expect(() => validateStageConfig(patch(name, (c) => change(name === 'prod' ? withContext(c, DOMAIN) : c)))).toThrow(message);
  });

  describe('context overrides', () => {
    test('-c domainName and -c certificateArn replace the configured domain; a hosted zone is optional', () => {
      const c = withContext(STAGES.staging, { ...DOMAIN, hostedZoneId: 'Z123', hostedZoneName: 'example.com' });
      expect(c.loadBalancer.domain).toEqual({ ...DOMAIN, hostedZone: { id: 'Z123', name: 'example.com' } });
      expect(withContext(STAGES.staging, {})).toBe(STAGES.staging);
    });

    test('fails on a domain without a certificate', () => {
      expect(() => withContext(STAGES.prod, { domainName: 'llm.example.com' })).toThrow(/pass both -c domainName=… and -c certificateArn=… \(got only domainName\)/);
    });

    test('fails on a certificate that is not an ACM ARN, from context as from the config', () => {
      expect(() => getStageConfig('prod', { domainName: 'llm.example.com', certificateArn: 'nope' })).toThrow(/certificateArn "nope" is not an ACM certificate ARN/);
    });
  });

  test('fails with every problem listed in one message, naming the stage', () => {
    const bad = patch('dev', (c) => ({
      ...c,
      database: { ...c.database, port: 5432 },
      cache: { ...c.cache, port: 6379 },
    }));
    expect(() => validateStageConfig(bad)).toThrow(/^invalid config for stage "dev": database\.port is 5432.*; cache\.port is 6379/);
  });

  test('messages start lowercase', () => {
    expect(() => validateStageConfig(patch('dev', (c) => ({ ...c, database: { ...c.database, port: 5432 } })))).toThrow(/^[a-z]/);
  });
});
