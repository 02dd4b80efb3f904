import { Match, Template } from 'aws-cdk-lib/assertions';
import { STAGES, StageName } from '../../../lib/config';
import { only } from '../synth';

/** Issue point 3: RDS PostgreSQL 16, encrypted, private, monitored, rotated credentials. */
export function databaseChecks(name: StageName, template: () => Template): void {
  const db = STAGES[name].database;
  const instance = () => only(template(), 'AWS::RDS::DBInstance');

  describe('database', () => {
    test('PostgreSQL 16 in the isolated subnets, not publicly accessible, on a non-default port', () => {
      template().hasResourceProperties('AWS::RDS::DBInstance', {
        Engine: 'postgres',
        EngineVersion: Match.stringLikeRegexp('^16'),
        DBInstanceClass: `db.${db.instanceType}`,
        PubliclyAccessible: false,
        Port: String(db.port),
        CACertificateIdentifier: 'rds-ca-rsa2048-g1',
      });
      expect(db.port).not.toBe(5432);
      const subnetGroup = only(template(), 'AWS::RDS::DBSubnetGroup').props;
      for (const subnet of subnetGroup.SubnetIds) expect(subnet.Ref).toMatch(/IsolatedSubnet/);
    });

    test('storage encrypted with a customer-managed key that rotates', () => {
      const { props } = instance();
      expect(props.StorageEncrypted).toBe(true);
      const key = template().toJSON().Resources[props.KmsKeyId['Fn::GetAtt'][0]];
      expect(key.Type).toBe('AWS::KMS::Key');
      expect(key.Properties.EnableKeyRotation).toBe(true);
    });

    test('TLS is forced by the parameter group', () => {
      template().hasResourceProperties('AWS::RDS::DBParameterGroup', {
        Family: 'postgres16',
        Parameters: Match.objectLike({ 'rds.force_ssl': '1' }),
      });
    });

    test('logs exported to CloudWatch and enhanced monitoring on', () => {
      template().hasResourceProperties('AWS::RDS::DBInstance', {
        EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
        MonitoringInterval: db.monitoringIntervalSeconds,
        MonitoringRoleArn: Match.anyValue(),
      });
      template().hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/rds/instance/llm-api-${name}/postgresql`,
        RetentionInDays: Match.anyValue(),
      });
    });

    test('credentials generated into Secrets Manager (encrypted with the key) and rotated', () => {
      const { props } = instance();
      expect(JSON.stringify(props.MasterUserPassword)).toContain('{{resolve:secretsmanager:');
      template().hasResourceProperties('AWS::SecretsManager::Secret', {
        GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password', SecretStringTemplate: '{"username":"llmapi"}' }),
        KmsKeyId: Match.anyValue(),
      });
      template().hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
        RotationRules: { ScheduleExpression: `rate(${db.credentialRotationDays} days)` },
        // The first tasks must not race a rotation right after creation.
        RotateImmediatelyOnUpdate: false,
      });
      template().resourceCountIs('AWS::Serverless::Application', 1);
    });

    test(`multi-AZ ${db.multiAz}, deletion protection ${db.deletionProtection}, backups ${db.backupRetentionDays} d`, () => {
      template().hasResourceProperties('AWS::RDS::DBInstance', {
        MultiAZ: db.multiAz,
        DeletionProtection: db.deletionProtection,
        BackupRetentionPeriod: db.backupRetentionDays,
      });
    });

    if (name === 'prod') {
      test('prod: Multi-AZ, deletion protection, >= 7 days of backups, snapshot on removal', () => {
        const { props, resource } = instance();
        expect(props.MultiAZ).toBe(true);
        expect(props.DeletionProtection).toBe(true);
        expect(props.BackupRetentionPeriod).toBeGreaterThanOrEqual(7);
        expect(['Snapshot', 'Retain']).toContain(resource.DeletionPolicy);
        expect(['Snapshot', 'Retain']).toContain(resource.UpdateReplacePolicy);
      });
    }
    if (name === 'dev') {
      test('dev: small and disposable', () => {
        const { props, resource } = instance();
        expect(props.DBInstanceClass).toBe('db.t4g.micro');
        expect(props.MultiAZ).toBe(false);
        expect(props.DeletionProtection).toBe(false);
        expect(props.DeleteAutomatedBackups).toBe(true);
        expect(resource.DeletionPolicy).toBe('Delete');
      });
    }

    test('only the service, the rotation function and the roles function reach the database port', () => {
      const ingress = Object.values(template().findResources('AWS::EC2::SecurityGroupIngress'))
        .map((r) => r.Properties)
        .filter((p) => JSON.stringify(p.GroupId).includes('DatabaseInstanceSecurityGroup'));
      const sources = ingress.map((p) => JSON.stringify(p.SourceSecurityGroupId)).sort();
      expect(sources).toHaveLength(3);
      expect(sources[0]).toMatch(/ApiServiceSecurityGroup/);
      expect(sources[1]).toMatch(/RotationSingleUserSecurityGroup/);
      expect(sources[2]).toMatch(/DatabaseRolesSecurityGroup/);
    });

    test('ct-rds-pr-7: IAM database authentication is on', () => {
      expect(instance().props.EnableIAMDatabaseAuthentication).toBe(true);
    });

    test('the service logs in as its own roles with IAM tokens: rds-db:connect on exactly those two users', () => {
      const statements = Object.values(template().findResources('AWS::IAM::Policy')).flatMap(
        (p: any) => p.Properties.PolicyDocument.Statement,
      );
      const resources = statements.filter((st: any) => st.Action === 'rds-db:connect').flatMap((st: any) => [st.Resource].flat());
      const users = resources.map((r: any) => JSON.stringify(r).match(/\/(\w+)"\]\]\}$/)?.[1]).sort();
      expect(users).toEqual(['llmapi_app', 'llmapi_migrator']);
      for (const r of resources) expect(JSON.stringify(r)).toMatch(/:dbuser:.*DatabaseInstance.*DbiResourceId/);
    });

    test('the master secret is never in the task, and a rotation of it never redeploys the service', () => {
      const taskDefinition = JSON.stringify(only(template(), 'AWS::ECS::TaskDefinition').props);
      expect(taskDefinition).not.toMatch(/DatabaseInstanceSecret/);
      const rule = only(template(), 'AWS::Events::Rule').props;
      expect(JSON.stringify(rule.EventPattern.resources)).not.toMatch(/DatabaseInstanceSecret/);
    });

    test('a custom resource in the VPC creates the roles as the master user', () => {
      const roles = only(template(), 'Custom::LlmApiDatabaseRoles').props;
      expect(roles).toMatchObject({ AppUser: 'llmapi_app', MigrationUser: 'llmapi_migrator', DatabaseName: db.databaseName });
      expect(roles.SecretArn).toEqual({ Ref: expect.stringMatching(/^DatabaseInstanceSecret/) });
      const fns = Object.values(template().findResources('AWS::Lambda::Function')).map((f: any) => f.Properties);
      const handler = fns.find((f) => f.Description === 'Creates the llm-api database roles as the master user');
      expect(handler.VpcConfig.SubnetIds.map((s: any) => s.Ref)).toEqual([expect.stringMatching(/PrivateSubnet1/), expect.stringMatching(/PrivateSubnet2/)]);
      template().hasResourceProperties('AWS::RDS::EventSubscription', {
        SourceType: 'db-instance',
        EventCategories: Match.arrayWith(['configuration change', 'failover', 'failure', 'maintenance']),
        SnsTopicArn: { Ref: Match.stringLikeRegexp('^NotificationsTopic') },
      });
    });
  });
}
