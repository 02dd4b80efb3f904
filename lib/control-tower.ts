import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** The template `Metadata` key that holds a resource's Control Tower acknowledgements. */
export const CONTROL_TOWER_METADATA_KEY = 'ControlTowerAcknowledgements';

/**
 * Records, on the resource in the template, that an AWS Control Tower proactive control
 * (`CT.S3.PR.4`, …) does not hold for it and why: the counterpart of a cdk-nag acknowledgement
 * for controls an AWS service cannot meet. test/infra/control-tower.test.ts runs the controls
 * (cfn-guard) and accepts a failure only where its control is acknowledged here.
 *
 * `construct` is a CfnResource or an L2 whose default child is one.
 */
export function acknowledgeControl(construct: IConstruct, control: string, reason: string): void {
  if (!/^CT\.[A-Z0-9]+\.PR\.\d+$/.test(control)) throw new Error(`control "${control}" must look like CT.S3.PR.4`);
  const resource = CfnResource.isCfnResource(construct) ? construct : construct.node.defaultChild;
  if (!resource || !CfnResource.isCfnResource(resource)) {
    throw new Error(`${construct.node.path} is not a CloudFormation resource; acknowledge ${control} on the resource itself`);
  }
  const existing = (resource.getMetadata(CONTROL_TOWER_METADATA_KEY) as Record<string, string> | undefined) ?? {};
  resource.addMetadata(CONTROL_TOWER_METADATA_KEY, { ...existing, [control]: reason });
}
