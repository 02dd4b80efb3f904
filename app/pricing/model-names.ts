/**
 * The names a model id is looked up under, most specific first. Providers spell one model many
 * ways; the price table holds each model once, under its plain name:
 *
 * 1. the id as given, lower-cased (`gpt-4o-2024-05-13`, which is priced apart from `gpt-4o`);
 * 2. without a path before the last `/` (`openai/gpt-4o`, a Bedrock inference-profile ARN);
 * 3. without a Bedrock region prefix (`us.`, `eu.`, `apac.`, `global.`, …) and vendor prefix
 *    (`anthropic.`, `amazon.`, `meta.`, …) and version suffix (`-v1:0`, `:0`);
 * 4. without a date or `-latest` suffix (`-2024-07-18`, `-20250929`, `@20250929`, `-latest`).
 *
 * So `us.anthropic.claude-sonnet-4-5-20250929-v1:0` is priced as `claude-sonnet-4-5` and
 * `gpt-4o-mini-2024-07-18` as `gpt-4o-mini`.
 */
const REGION = /^(us|eu|apac|ap|global|us-gov|jp|au|ca)\./;
const VENDOR = /^(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|twelvelabs)\./;
const VERSION = /(-v\d+(:\d+)?|:\d+)$/;
const DATE = /([-@](\d{4}-\d{2}-\d{2}|\d{8})|-latest)$/;

export function priceLookupNames(model: string): string[] {
  const names: string[] = [];
  const add = (n: string) => {
    if (n && !names.includes(n)) names.push(n);
  };
  let n = model.trim().toLowerCase();
  add(n);
  n = n.slice(n.lastIndexOf('/') + 1);
  add(n);
  n = n.replace(REGION, '').replace(VENDOR, '').replace(VERSION, '');
  add(n);
  add(n.replace(DATE, ''));
  return names;
}
