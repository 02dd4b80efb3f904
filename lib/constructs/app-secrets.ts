import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface AppSecretsProps {
  /** Secret names start with this, e.g. `llm-api/prod` gives `llm-api/prod/openai-api-key`. */
  readonly namePrefix: string;
  /**
   * What happens to the secrets when they leave the stack.
   * @default RemovalPolicy.DESTROY (Secrets Manager still keeps them 7-30 days for recovery)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The application's own credentials. Both get a random value at creation; the upstream key is
 * then overwritten by the operator (`aws secretsmanager put-secret-value`), the admin key is
 * read by whoever administers API keys.
 */
export class AppSecrets extends Construct {
  /** The upstream provider's API key (`OPENAI_API_KEY`); placeholder until the operator sets it. */
  public readonly upstreamApiKey: secretsmanager.Secret;
  /** Bearer token of the admin routes (`ADMIN_API_KEY`). */
  public readonly adminApiKey: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: AppSecretsProps) {
    super(scope, id);

    this.upstreamApiKey = new secretsmanager.Secret(this, 'UpstreamApiKey', {
      secretName: `${props.namePrefix}/openai-api-key`,
      description: 'Upstream (OpenAI-compatible) API key; replace the generated placeholder with the real key',
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    Validations.of(this.upstreamApiKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'the upstream key is issued by the provider (OpenAI or another); the operator rotates it there and puts the new value here',
    });

    this.adminApiKey = new secretsmanager.Secret(this, 'AdminApiKey', {
      secretName: `${props.namePrefix}/admin-api-key`,
      description: 'Bearer token of the llm-api admin routes (/admin/*)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    Validations.of(this.adminApiKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'the admin token is held by people, not a service; it is rotated on demand with put-secret-value and a redeploy',
    });
  }
}
