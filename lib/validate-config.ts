import { STAGE_NAMES, STAGES, DomainConfig, StageConfig, isStageName } from './config';
import { routingProblems } from './routing';

/** Memory (MiB) Fargate accepts for each CPU size. */
const FARGATE_MEMORY: Record<number, (mib: number) => boolean> = {
  256: (m) => [512, 1024, 2048].includes(m),
  512: (m) => m >= 1024 && m <= 4096 && m % 1024 === 0,
  1024: (m) => m >= 2048 && m <= 8192 && m % 1024 === 0,
  2048: (m) => m >= 4096 && m <= 16384 && m % 1024 === 0,
  4096: (m) => m >= 8192 && m <= 30720 && m % 1024 === 0,
  8192: (m) => m >= 16384 && m <= 61440 && m % 4096 === 0,
  16384: (m) => m >= 32768 && m <= 122880 && m % 8192 === 0,
};

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/**
 * Throws one `Error` listing every problem in `config`, each naming the bad value and the fix.
 */
export function validateStageConfig(config: StageConfig): StageConfig {
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  const { network: net, database: db, cache, service: svc, loadBalancer: lb, monitoring: mon } = config;

  check(isStageName(config.stage), `stage ${JSON.stringify(config.stage)} is unknown; use one of ${STAGE_NAMES.join(', ')}`);
  if (config.account !== undefined) {
    check(/^\d{12}$/.test(config.account), `account "${config.account}" must be a 12-digit AWS account id`);
  }
  if (config.region !== undefined) {
    check(/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(config.region), `region "${config.region}" is not an AWS region name such as eu-west-1`);
  }
  if (config.availabilityZones !== undefined) {
    const azs = config.availabilityZones;
    check(azs.length === 2 && azs[0] !== azs[1], `availabilityZones [${azs.join(', ')}] must list exactly two different zones`);
    if (config.region !== undefined) {
      for (const az of azs) check(az.startsWith(config.region), `availability zone "${az}" is not in region ${config.region}`);
    }
  }

  const cidr = CIDR.exec(net.cidr);
  check(
    cidr !== null && cidr.slice(1, 5).every((o) => Number(o) <= 255) && Number(cidr[5]) >= 16 && Number(cidr[5]) <= 20,
    `network.cidr "${net.cidr}" must be an IPv4 range from /16 to /20, e.g. 10.0.0.0/16`,
  );
  check(net.natGateways === 1 || net.natGateways === 2, `network.natGateways is ${net.natGateways}; use 1 or 2 (one per AZ)`);

  check(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(db.instanceType), `database.instanceType "${db.instanceType}" must look like t4g.micro (no db. prefix)`);
  check(db.allocatedStorageGiB >= 20, `database.allocatedStorageGiB is ${db.allocatedStorageGiB}; gp3 needs at least 20`);
  check(
    db.maxAllocatedStorageGiB >= db.allocatedStorageGiB,
    `database.maxAllocatedStorageGiB (${db.maxAllocatedStorageGiB}) must be at least allocatedStorageGiB (${db.allocatedStorageGiB})`,
  );
  check(isInt(db.backupRetentionDays, 1, 35), `database.backupRetentionDays is ${db.backupRetentionDays}; use 1 to 35`);
  check(isPort(db.port) && db.port !== 5432, `database.port is ${db.port}; use a port from 1150 to 65535 other than 5432`);
  check(/^[a-z][a-z0-9_]{0,62}$/.test(db.databaseName), `database.databaseName "${db.databaseName}" must be lowercase letters, digits or _`);
  check(isInt(db.credentialRotationDays, 1, 365), `database.credentialRotationDays is ${db.credentialRotationDays}; use 1 to 365`);

  check(cache.nodeType.startsWith('cache.'), `cache.nodeType "${cache.nodeType}" must start with "cache."`);
  check(isInt(cache.replicas, 0, 5), `cache.replicas is ${cache.replicas}; use 0 to 5`);
  check(isPort(cache.port) && cache.port !== 6379, `cache.port is ${cache.port}; use a port from 1150 to 65535 other than 6379`);
  check(isInt(cache.snapshotRetentionDays, 1, 35), `cache.snapshotRetentionDays is ${cache.snapshotRetentionDays}; use 1 to 35`);

  const memoryOk = FARGATE_MEMORY[svc.cpu];
  check(memoryOk !== undefined, `service.cpu is ${svc.cpu}; Fargate accepts ${Object.keys(FARGATE_MEMORY).join(', ')}`);
  if (memoryOk) {
    check(memoryOk(svc.memoryMiB), `service.memoryMiB ${svc.memoryMiB} is not a Fargate size for cpu ${svc.cpu}`);
  }
  check(isInt(svc.minTasks, 1, 100), `service.minTasks is ${svc.minTasks}; use at least 1`);
  check(svc.maxTasks >= svc.minTasks, `service.maxTasks (${svc.maxTasks}) must be at least minTasks (${svc.minTasks})`);
  check(isInt(svc.stopTimeoutSeconds, 2, 120), `service.stopTimeoutSeconds is ${svc.stopTimeoutSeconds}; ECS allows 2 to 120`);
  check(
    svc.stopTimeoutSeconds * 1000 >= svc.shutdownGraceMs + 5000,
    `service.stopTimeoutSeconds (${svc.stopTimeoutSeconds}) must exceed shutdownGraceMs (${svc.shutdownGraceMs} ms) by at least 5 s; ` +
      `set it to ${Math.ceil(svc.shutdownGraceMs / 1000) + 5} or more`,
  );
  check(isInt(svc.longestStreamSeconds, 1, 3600), `service.longestStreamSeconds is ${svc.longestStreamSeconds}; use 1 to 3600`);
  check(isInt(svc.targetCpuPercent, 10, 90), `service.targetCpuPercent is ${svc.targetCpuPercent}; use 10 to 90`);
  check(svc.targetRequestsPerTask > 0, `service.targetRequestsPerTask is ${svc.targetRequestsPerTask}; use a positive number`);
  check(/^https?:\/\/\S+$/.test(svc.upstreamBaseUrl), `service.upstreamBaseUrl "${svc.upstreamBaseUrl}" must be an http(s) URL`);
  check(isInt(svc.workers, 1, 64), `service.workers is ${svc.workers}; use 1 to 64`);

  check(
    isInt(lb.idleTimeoutSeconds, 300, 4000),
    `loadBalancer.idleTimeoutSeconds is ${lb.idleTimeoutSeconds}; streamed answers need 300 to 4000`,
  );
  check(
    isInt(lb.deregistrationDelaySeconds, 0, 3600) && lb.deregistrationDelaySeconds >= svc.longestStreamSeconds,
    `loadBalancer.deregistrationDelaySeconds is ${lb.deregistrationDelaySeconds}; use ${svc.longestStreamSeconds} ` +
      `(service.longestStreamSeconds) to 3600 so a deploy does not cut streams`,
  );
  for (const cidr of lb.adminAllowedCidrs) {
    const m = CIDR.exec(cidr);
    check(
      m !== null && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32 && cidr !== '0.0.0.0/0',
      `loadBalancer.adminAllowedCidrs entry "${cidr}" must be an IPv4 range such as 203.0.113.0/24 (never 0.0.0.0/0)`,
    );
  }
  check(isInt(lb.accessLogRetentionDays, 1, 3650), `loadBalancer.accessLogRetentionDays is ${lb.accessLogRetentionDays}; use 1 to 3650`);
  if (lb.domain) {
    check(
      /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[\w-]+$/.test(lb.domain.certificateArn),
      `loadBalancer.domain.certificateArn "${lb.domain.certificateArn}" is not an ACM certificate ARN`,
    );
    check(
      /^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/.test(lb.domain.domainName),
      `loadBalancer.domain.domainName "${lb.domain.domainName}" is not a DNS name`,
    );
  }
  if (lb.waf) {
    check(
      isInt(lb.waf.rateLimitPer5Minutes, 10, 2_000_000_000),
      `loadBalancer.waf.rateLimitPer5Minutes is ${lb.waf.rateLimitPer5Minutes}; WAF accepts 10 or more`,
    );
  }

  for (const problem of routingProblems(config.routing)) check(false, problem);

  for (const email of mon.alarmEmails) check(EMAIL.test(email), `monitoring.alarmEmails entry "${email}" is not an e-mail address`);
  for (const [name, value] of Object.entries(mon.thresholds)) {
    check(typeof value === 'number' && Number.isFinite(value) && value >= 0, `monitoring.thresholds.${name} is ${value}; use a number >= 0`);
  }

  // Guard rails: whatever the edits, prod keeps its redundancy and its data.
  if (config.stage === 'prod') {
    check(db.multiAz, 'prod: database.multiAz must be true');
    check(db.deletionProtection, 'prod: database.deletionProtection must be true');
    check(db.backupRetentionDays >= 7, `prod: database.backupRetentionDays is ${db.backupRetentionDays}; keep at least 7`);
    check(db.removalPolicy !== 'destroy', 'prod: database.removalPolicy must be "snapshot" or "retain"');
    check(cache.replicas >= 1, 'prod: cache.replicas must be at least 1 for automatic failover');
    check(svc.minTasks >= 2, `prod: service.minTasks is ${svc.minTasks}; run at least 2 tasks, one per AZ`);
    check(net.natGateways === 2, 'prod: network.natGateways must be 2, one per AZ');
    check(lb.deletionProtection, 'prod: loadBalancer.deletionProtection must be true');
    check(config.terminationProtection, 'prod: terminationProtection must be true');
    check(
      lb.domain !== undefined,
      'prod: serves HTTPS only and needs a domain and an ACM certificate: set loadBalancer.domain in lib/config.ts, ' +
        'or pass -c domainName=api.example.com -c certificateArn=arn:aws:acm:REGION:ACCOUNT:certificate/ID ' +
        '(optionally -c hostedZoneId=… -c hostedZoneName=…)',
    );
    check(
      svc.logRetention >= 365 && net.flowLogRetention >= 365,
      'prod: service.logRetention and network.flowLogRetention must be at least RetentionDays.ONE_YEAR',
    );
    check(config.availabilityZones !== undefined, 'prod: name the two availabilityZones (and the region) so the subnets never move');
  }

  if (problems.length > 0) {
    throw new Error(`invalid config for stage "${config.stage}": ${problems.join('; ')}`);
  }
  return config;
}

/** Values `cdk synth`/`deploy` may take from `-c name=value`, overriding the stage config. */
export interface ContextOverrides {
  readonly domainName?: unknown;
  readonly certificateArn?: unknown;
  readonly hostedZoneId?: unknown;
  readonly hostedZoneName?: unknown;
}

/**
 * `config` with the domain from context values: `domainName` and `certificateArn` together
 * replace `loadBalancer.domain`; `hostedZoneId` and `hostedZoneName` add the zone.
 */
export function withContext(config: StageConfig, context: ContextOverrides): StageConfig {
  const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const domainName = str(context.domainName);
  const certificateArn = str(context.certificateArn);
  const zoneId = str(context.hostedZoneId);
  const zoneName = str(context.hostedZoneName);
  if (!domainName && !certificateArn && !zoneId && !zoneName) return config;
  if (!domainName !== !certificateArn) {
    throw new Error(`pass both -c domainName=… and -c certificateArn=… (got only ${domainName ? 'domainName' : 'certificateArn'})`);
  }
  if (!zoneId !== !zoneName) {
    throw new Error('pass both -c hostedZoneId=… and -c hostedZoneName=… or neither');
  }
  const base = config.loadBalancer.domain;
  if (!domainName && !base) throw new Error('-c hostedZoneId/hostedZoneName need a domain: pass -c domainName=… -c certificateArn=… too');
  const domain: DomainConfig = {
    domainName: domainName ?? base!.domainName,
    certificateArn: certificateArn ?? base!.certificateArn,
    hostedZone: zoneId ? { id: zoneId, name: zoneName! } : domainName ? undefined : base!.hostedZone,
  };
  return { ...config, loadBalancer: { ...config.loadBalancer, domain } };
}

/** The validated config for `-c stage=NAME`, with the context's overrides applied. */
export function getStageConfig(stage: unknown, context: ContextOverrides = {}): StageConfig {
  if (!isStageName(stage)) {
    const shown = stage === undefined ? 'missing' : `${JSON.stringify(stage)} is unknown`;
    throw new Error(`stage ${shown}: pass -c stage=NAME with NAME one of ${STAGE_NAMES.join(', ')}`);
  }
  return validateStageConfig(withContext(STAGES[stage], context));
}

function isInt(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

function isPort(value: number): boolean {
  return isInt(value, 1150, 65535);
}
