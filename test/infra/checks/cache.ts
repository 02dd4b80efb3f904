import { Match, Template } from 'aws-cdk-lib/assertions';
import { STAGES, StageName } from '../../../lib/config';
import { container, isImportOf, only } from '../synth';

/** Issue point 4: ElastiCache Valkey with TLS, encryption at rest, AUTH from Secrets Manager. */
export function cacheChecks(name: StageName, template: () => Template): void {
  const cache = STAGES[name].cache;
  const group = () => only(template(), 'AWS::ElastiCache::ReplicationGroup').props;

  describe('cache', () => {
    test('Valkey with TLS required in transit and encryption at rest, on a non-default port', () => {
      template().hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        Engine: cache.engine,
        CacheNodeType: cache.nodeType,
        TransitEncryptionEnabled: true,
        TransitEncryptionMode: 'required',
        AtRestEncryptionEnabled: true,
        Port: cache.port,
      });
      expect(cache.port).not.toBe(6379);
    });

    test('AUTH token comes from a generated Secrets Manager secret, never a literal', () => {
      const token = JSON.stringify(group().AuthToken);
      expect(token).toMatch(/^\{"Fn::Join":\["",\["\{\{resolve:secretsmanager:",\{"Ref":"CacheAuthToken/);
      template().hasResourceProperties('AWS::SecretsManager::Secret', {
        Description: Match.stringLikeRegexp('AUTH token'),
        GenerateSecretString: Match.objectLike({ PasswordLength: 64, ExcludePunctuation: true }),
      });
    });

    test('ElastiCache events go to the operator topic', () => {
      expect(group().NotificationTopicArn).toEqual({ Ref: expect.stringMatching(/^NotificationsTopic/) });
    });

    test('daily snapshots are kept', () => {
      expect(group().SnapshotRetentionLimit).toBe(cache.snapshotRetentionDays);
      expect(group().SnapshotRetentionLimit).toBeGreaterThan(0);
    });

    test('nodes live in the private subnets behind their own security group', () => {
      const subnets = only(template(), 'AWS::ElastiCache::SubnetGroup').props.SubnetIds;
      expect(subnets).toHaveLength(2);
      for (const subnet of subnets) expect(subnet.Ref).toMatch(/PrivateSubnet/);
      const ingress = Object.values(template().findResources('AWS::EC2::SecurityGroupIngress'))
        .map((r) => r.Properties)
        .filter((p) => isImportOf(p.GroupId, 'CacheSecurityGroup'));
      expect(ingress).toEqual([
        expect.objectContaining({
          FromPort: cache.port,
          ToPort: cache.port,
          SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^ApiServiceSecurityGroup/), 'GroupId'] },
        }),
      ]);
    });

    if (name === 'prod') {
      test('prod: a replica, Multi-AZ and automatic failover', () => {
        expect(group()).toMatchObject({ NumCacheClusters: 2, MultiAZEnabled: true, AutomaticFailoverEnabled: true });
      });
    } else {
      test(`${cache.replicas === 0 ? 'a single node' : 'a replica with failover'} outside prod`, () => {
        expect(group()).toMatchObject({ NumCacheClusters: 1 + cache.replicas, MultiAZEnabled: cache.replicas > 0 });
      });
    }

    test('the app connects with rediss:// and gets the token as REDIS_PASSWORD', () => {
      const env = container(template()).Environment.find((e: any) => e.Name === 'REDIS_URL');
      expect(env.Value['Fn::Join'][1][0]).toBe('rediss://');
      expect(isImportOf(env.Value['Fn::Join'][1][1], 'CacheReplicationGroup')).toBe(true);
      expect(env.Value['Fn::Join'][1][2]).toBe(`:${cache.port}`);
    });
  });
}
