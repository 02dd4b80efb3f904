import { RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeControl } from '../control-tower';

export interface NetworkProps {
  /** IPv4 range of the VPC. */
  readonly cidr: string;
  /** NAT gateways: 1 shared, or 2 for one per AZ. */
  readonly natGateways: number;
  /**
   * How long VPC flow logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly flowLogRetention?: logs.RetentionDays;
  /**
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * An interface endpoint for `bedrock-runtime`, so model calls stay in the VPC.
   * @default false
   */
  readonly bedrockRuntimeEndpoint?: boolean;
}

/**
 * VPC over two AZs: public subnets for the ALB and NAT, private subnets with egress for tasks
 * and the cache, isolated subnets for the database. AWS API traffic from the tasks (image pulls,
 * logs, secrets) stays on VPC endpoints instead of crossing the NAT.
 */
export class Network extends Construct {
  public readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr),
      maxAzs: 2,
      natGateways: props.natGateways,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      // Strips the default security group's rules, so nothing can fall back on it.
      restrictDefaultSecurityGroup: true,
    });

    // CDK's own handler that strips the default security group's rules, once per stack.
    const restrictHandler = Stack.of(this).node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider')?.node.tryFindChild('Handler');
    if (restrictHandler) {
      acknowledgeControl(
        restrictHandler,
        'CT.LAMBDA.PR.3',
        "aws-cdk-lib's handler that removes the default security group's rules runs at deploy time only and calls only EC2 APIs; " +
          'it is created before the VPC it would have to run in',
      );
    }
    if (!Token.isUnresolved(Stack.of(this).availabilityZones[0])) {
      Validations.of(this.vpc).acknowledge({
        id: 'CloudFormation-Validate::W3010',
        reason: 'the stage config names its two zones on purpose, so a region gaining a zone never moves subnets, tasks or the database',
      });
    }

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    // One security group for all interface endpoints: HTTPS from inside the VPC only. The peer
    // is the literal CIDR so the rule can be checked at synth time.
    const endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'Interface VPC endpoints: HTTPS from inside the VPC',
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(props.cidr), ec2.Port.tcp(443), 'AWS APIs from inside the VPC');
    const interfaceEndpoints: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      EcrApiEndpoint: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDockerEndpoint: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      LogsEndpoint: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      SecretsManagerEndpoint: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      ...(props.bedrockRuntimeEndpoint ? { BedrockRuntimeEndpoint: ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME } : {}),
    };
    for (const [endpointId, service] of Object.entries(interfaceEndpoints)) {
      this.vpc.addInterfaceEndpoint(endpointId, {
        service,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        privateDnsEnabled: true,
        securityGroups: [endpointSecurityGroup],
        open: false,
      });
    }
  }
}
