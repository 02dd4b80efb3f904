import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { ServiceSignals } from './signals';

export interface DashboardProps {
  readonly dashboardName: string;
  readonly signals: ServiceSignals;
  /**
   * Alarms shown in the status strip at the top and as graphs with their thresholds.
   * @default - no alarm widgets
   */
  readonly alarms?: cloudwatch.IAlarm[];
}

/**
 * One CloudWatch dashboard: alarm states first, then traffic as the app sees it, then one row
 * per tier (load balancer, service, database, cache).
 */
export class Dashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    const s = props.signals;
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 8, height: 6 });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName });

    const alarms = props.alarms ?? [];
    if (alarms.length > 0) {
      this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24, height: 4 }));
    }
    this.dashboard.addWidgets(
      graph('Gateway: requests, 5xx, 429, upstream errors', [s.requests, s.appErrors5xx, s.rateLimited, s.upstreamErrors]),
      graph('Gateway: upstream error rate (%)', [s.upstreamErrorRate]),
      graph('Gateway: tokens, cache hits, overhead p99 (ms)', [s.promptTokens, s.completionTokens, s.cacheHits], [s.gatewayOverheadP99]),
    );
    this.dashboard.addWidgets(
      graph('ALB: 5xx (targets, load balancer) and 5xx rate (%)', [s.target5xx, s.elb5xx], [s.http5xxRate]),
      graph('ALB: TargetResponseTime p99 (s)', [s.p99Latency]),
      graph('ALB: unhealthy targets, rejected and failed connections', [s.unhealthyHosts, s.rejectedConnections, s.targetConnectionErrors]),
    );
    this.dashboard.addWidgets(
      graph('Gateway faults: limiter fail-open, usage rows dropped, budget re-seed failures', [
        s.limiterFailOpen,
        s.usageRowsDropped,
        s.budgetReseedFailures,
      ]),
      graph('Budgets: threshold crossings (80 % / 100 %)', s.budgetThresholdCrossed ? [s.budgetThresholdCrossed] : []),
    );
    this.dashboard.addWidgets(
      graph('ECS: running tasks', [s.runningTasks]),
      graph('ECS: CPU and memory (%)', [s.serviceCpu, s.serviceMemory]),
      graph('RDS: CPU (%) and connections', [s.dbCpu], [s.dbConnections]),
    );
    this.dashboard.addWidgets(
      graph('RDS: free storage and freeable memory (bytes)', [s.dbFreeStorage], [s.dbFreeableMemory]),
      graph('ElastiCache: engine CPU and memory (%)', [s.cacheEngineCpu, s.cacheMemory]),
      graph('ElastiCache: evictions', [s.cacheEvictions]),
    );
    for (let i = 0; i < alarms.length; i += 4) {
      this.dashboard.addWidgets(
        ...alarms.slice(i, i + 4).map((alarm) => new cloudwatch.AlarmWidget({ alarm, width: 6, height: 5 })),
      );
    }
  }
}
