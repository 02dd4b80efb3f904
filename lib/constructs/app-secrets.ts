import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface AppSecretsProps {
  /** Secret names start with this, e.g. `llm-api/prod` gives `llm-api/prod/openai-api-key`. */
  readonly namePrefix: string;
  /**
   * Environment names of the provider keys the container gets injected (each provider's
   * `api_key_env`), e.g. `OPENAI_API_KEY` → secret `<namePrefix>/openai-api-key`.
   * @default - none
   */
  readonly providerKeyEnvs?: string[];
  /**
   * Secrets the app reads itself at boot (providers' `api_key_secret_id`): a name is created here
   * with a placeholder; a full ARN is an existing secret, only referenced.
   * @default - none
   */
  readonly providerSecretIds?: string[];
  /**
   * What CloudFormation does with the secrets when they leave the stack. DESTROY deletes them at
   * once, without Secrets Manager's recovery window (CloudFormation forces the deletion).
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The application's own credentials. Each gets a random value at creation; provider keys are
 * then overwritten by the operator (`aws secretsmanager put-secret-value`), the admin token is
 * read by whoever administers API keys.
 */
export class AppSecrets extends Construct {
  /** Bearer token of the admin routes (`ADMIN_API_KEY`). */
  public readonly adminApiKey: secretsmanager.Secret;
  /** Provider keys injected into the container, by environment name. */
  public readonly providerKeys: Record<string, secretsmanager.ISecret> = {};
  /** Provider keys the app reads itself, by `api_key_secret_id`. */
  public readonly readAtBoot: Record<string, secretsmanager.ISecret> = {};

  constructor(scope: Construct, id: string, props: AppSecretsProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;

    this.adminApiKey = new secretsmanager.Secret(this, 'AdminApiKey', {
      secretName: `${props.namePrefix}/admin-api-key`,
      description: 'Bearer token of the llm-api admin routes (/admin/*)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy,
    });
    Validations.of(this.adminApiKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'the admin token is held by people, not a service; it is rotated on demand with put-secret-value and a redeploy',
    });

    for (const env of props.providerKeyEnvs ?? []) {
      const name = env.toLowerCase().replace(/_/g, '-');
      this.providerKeys[env] = this.placeholder(`ProviderKey${pascal(env)}`, `${props.namePrefix}/${name}`, `Provider API key injected as ${env}`, removalPolicy);
    }
    for (const secretId of props.providerSecretIds ?? []) {
      this.readAtBoot[secretId] = secretId.startsWith('arn:')
        ? secretsmanager.Secret.fromSecretCompleteArn(this, `External${pascal(secretId)}`, secretId)
        : this.placeholder(`ReadAtBoot${pascal(secretId)}`, secretId, 'Provider API key the gateway reads at boot (api_key_secret_id)', removalPolicy);
    }
  }

  private placeholder(id: string, secretName: string, description: string, removalPolicy: RemovalPolicy): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, id, {
      secretName,
      description: `${description}; replace the generated placeholder with the real key`,
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
      removalPolicy,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'provider keys are issued by the provider (OpenAI, Anthropic, …); the operator rotates them there and puts the new value here',
    });
    return secret;
  }
}

function pascal(value: string): string {
  return value
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1).toLowerCase())
    .join('');
}
