/**
 * The three stages, synthesized once each, checked point by point (see test/infra/checks/*).
 * Synthesis runs cdk-nag: a stage with an unacknowledged finding fails before any test runs.
 */
import { ALL_STAGES, stage } from './synth';
import { cacheChecks } from './checks/cache';
import { databaseChecks } from './checks/database';
import { entryChecks } from './checks/entry';
import { loadBalancerChecks } from './checks/load-balancer';
import { monitoringChecks } from './checks/monitoring';
import { networkChecks } from './checks/network';
import { serviceChecks } from './checks/service';

/** Asset hashes change with every build of dist/server.js; the snapshot is about structure. */
const ASSET_HASH = /[0-9a-f]{64}/g;
expect.addSnapshotSerializer({
  test: (value) => typeof value === 'string' && /[0-9a-f]{64}/.test(value),
  serialize: (value: string) => JSON.stringify(value.replace(ASSET_HASH, '[ASSET_HASH]')),
});

describe.each(ALL_STAGES)('stage %s', (name) => {
  const synthesized = () => stage(name);
  const template = () => stage(name).template;
  // Synthesis (with cdk-nag) happens once per stage, outside the per-test timeout.
  beforeAll(() => void stage(name), 120_000);

  entryChecks(name, synthesized);
  networkChecks(name, template);
  databaseChecks(name, template);
  cacheChecks(name, template);
  serviceChecks(name, template);
  loadBalancerChecks(name, template);
  monitoringChecks(name, template);

  test('template snapshot (asset hashes stripped)', () => {
    expect(template().toJSON()).toMatchSnapshot();
  });
});
