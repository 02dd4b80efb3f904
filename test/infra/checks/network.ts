import { Match, Template } from 'aws-cdk-lib/assertions';
import { STAGES, StageName } from '../../../lib/config';

/** Issue point 2: VPC, subnets, NAT, flow logs, endpoints. */
export function networkChecks(name: StageName, template: () => Template): void {
  describe('network', () => {
    test('VPC uses the stage CIDR', () => {
      template().hasResourceProperties('AWS::EC2::VPC', {
        CidrBlock: STAGES[name].network.cidr,
        EnableDnsHostnames: true,
        EnableDnsSupport: true,
      });
    });

    test('two AZs with public, private-with-egress and isolated subnets', () => {
      template().resourceCountIs('AWS::EC2::Subnet', 6);
      for (const type of ['Public', 'Private', 'Isolated']) {
        const subnets = template().findResources('AWS::EC2::Subnet', {
          Properties: { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: type }]) },
        });
        expect(Object.keys(subnets)).toHaveLength(2);
      }
    });

    test('public subnets do not auto-assign public IPs', () => {
      const subnets = Object.values(template().findResources('AWS::EC2::Subnet'));
      for (const subnet of subnets) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    });

    test(`NAT gateways: ${name === 'prod' ? 'one per AZ' : 'one shared'}`, () => {
      template().resourceCountIs('AWS::EC2::NatGateway', name === 'prod' ? 2 : 1);
    });

    test('flow logs capture all traffic into a CloudWatch log group with a retention', () => {
      template().hasResourceProperties('AWS::EC2::FlowLog', {
        ResourceType: 'VPC',
        TrafficType: 'ALL',
        LogDestinationType: 'cloud-watch-logs',
      });
      template().hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: STAGES[name].network.flowLogRetention });
    });

    test.each(['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager'])('interface endpoint for %s with private DNS', (service) => {
      template().hasResourceProperties('AWS::EC2::VPCEndpoint', {
        ServiceName: `com.amazonaws.us-east-1.${service}`,
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
      });
    });

    test('gateway endpoint for S3 on the private route tables', () => {
      template().hasResourceProperties('AWS::EC2::VPCEndpoint', {
        ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['.s3'])] }),
        VpcEndpointType: 'Gateway',
        RouteTableIds: Match.arrayWith([Match.objectLike({ Ref: Match.stringLikeRegexp('PrivateSubnet1RouteTable') })]),
      });
    });

    test('endpoint security group admits HTTPS from the VPC range only', () => {
      template().hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: Match.stringLikeRegexp('Interface VPC endpoints'),
        SecurityGroupIngress: [Match.objectLike({ CidrIp: STAGES[name].network.cidr, FromPort: 443, ToPort: 443 })],
      });
    });
  });
}
