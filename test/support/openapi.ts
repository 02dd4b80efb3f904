/**
 * JSON Schema validators for OpenAI's published OpenAPI document, so tests can check that what the
 * gateway (and its fakes) send is what OpenAI clients expect.
 *
 * The document is OpenAPI 3.1 (JSON Schema 2020-12) but still carries 3.0 habits, mapped here:
 * - `nullable: true` → `type: [t, 'null']` (plus `null` in `enum`), or `anyOf: [schema, {type: 'null'}]`
 *   when there is no single type (`$ref`, `anyOf`, …);
 * - `$ref: '#/components/schemas/X'` → `#/$defs/X` of one registered document;
 * - `$recursiveRef: '#'` (2019-09) → a `$ref` to the component it sits in;
 * - OpenAPI-only and annotation keywords (`x-*`, `discriminator`, `example`, `deprecated`, …) are
 *   dropped; `oneOf` still decides what `discriminator` would have;
 * - boolean `exclusiveMinimum`/`exclusiveMaximum` → the numeric form; duplicate `required` names removed;
 * - `format`s ajv does not know (`unixtime`) are annotations, as 2020-12 says formats are by default.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** Vendored unchanged from OpenAI's published document (spec/openai/SOURCE says where from). */
export const OPENAPI_PATH = path.resolve(__dirname, '../../spec/openai/openapi.json');
const DOC_ID = 'https://openai.local/openapi.json';

type Schema = Record<string, unknown>;

/** Keywords whose value is a map of name → schema. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
/** Keywords whose value is one schema. */
const SCHEMA_VALUES = new Set([
  'items',
  'additionalProperties',
  'not',
  'contains',
  'propertyNames',
  'if',
  'then',
  'else',
  'unevaluatedProperties',
  'unevaluatedItems',
  'additionalItems',
]);
/** Keywords whose value is a list of schemas. */
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
/** Keywords kept with their value as is. */
const PLAIN = new Set([
  'type',
  'enum',
  'const',
  'required',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'dependentRequired',
  'title',
  'description',
]);

const COMPONENT_REF = '#/components/schemas/';

/** One OpenAPI schema object as plain JSON Schema 2020-12; `component` names the enclosing component. */
function toJsonSchema(node: unknown, component: string, formats: Set<string>): unknown {
  if (typeof node === 'boolean') return node;
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return node;
  const src = node as Schema;
  const out: Schema = {};
  for (const [key, value] of Object.entries(src)) {
    if (key === '$ref' && typeof value === 'string') {
      out.$ref = value.startsWith(COMPONENT_REF) ? `#/$defs/${value.slice(COMPONENT_REF.length)}` : value;
    } else if (key === '$recursiveRef') {
      out.$ref = `#/$defs/${component}`;
    } else if (SCHEMA_MAPS.has(key) && value && typeof value === 'object') {
      out[key] = Object.fromEntries(
        Object.entries(value as Schema).map(([name, sub]) => [name, toJsonSchema(sub, component, formats)]),
      );
    } else if (SCHEMA_VALUES.has(key)) {
      out[key] = toJsonSchema(value, component, formats);
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key] = value.map((sub) => toJsonSchema(sub, component, formats));
    } else if (PLAIN.has(key)) {
      out[key] = value;
      if (key === 'format' && typeof value === 'string') formats.add(value);
    }
    // Everything else (nullable, x-*, discriminator, example, default, deprecated, …) is dropped.
  }
  exclusiveBounds(out);
  if (Array.isArray(out.required)) out.required = [...new Set(out.required)];
  return src.nullable === true ? withNull(out) : out;
}

/** OpenAPI 3.0's boolean `exclusiveMinimum`/`exclusiveMaximum` qualify `minimum`/`maximum`. */
function exclusiveBounds(schema: Schema): void {
  for (const [exclusive, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (typeof schema[exclusive] !== 'boolean') continue;
    if (schema[exclusive] === true && typeof schema[bound] === 'number') {
      schema[exclusive] = schema[bound];
      delete schema[bound];
    } else {
      delete schema[exclusive];
    }
  }
}

function withNull(schema: Schema): Schema {
  const single = typeof schema.type === 'string' && !schema.$ref && !schema.anyOf && !schema.oneOf && !schema.allOf;
  if (!single) return { anyOf: [schema, { type: 'null' }] };
  const out: Schema = { ...schema, type: [schema.type, 'null'] };
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) out.enum = [...schema.enum, null];
  return out;
}

let ajv: Ajv2020 | undefined;
let schemaNames: Set<string> | undefined;
const compiled = new Map<string, ValidateFunction>();

function load(): Ajv2020 {
  if (ajv) return ajv;
  const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as { components: { schemas: Record<string, unknown> } };
  const formats = new Set<string>();
  const defs = Object.fromEntries(
    Object.entries(doc.components.schemas).map(([name, schema]) => [name, toJsonSchema(schema, name, formats)]),
  );
  const instance = new Ajv2020({
    allErrors: true,
    strict: true,
    // OpenAPI leaves `type` implicit and lists `required` names defined in allOf siblings.
    strictTypes: false,
    strictRequired: false,
    strictTuples: false,
    allowUnionTypes: true,
  });
  addFormats(instance);
  for (const format of formats) {
    if (!instance.formats[format]) instance.addFormat(format, true);
  }
  instance.addSchema({ $id: DOC_ID, $defs: defs });
  schemaNames = new Set(Object.keys(defs));
  ajv = instance;
  return instance;
}

/** The compiled validator for `#/components/schemas/<name>`. */
export function validator(schemaName: string): ValidateFunction {
  const instance = load();
  let fn = compiled.get(schemaName);
  if (!fn) {
    if (!schemaNames?.has(schemaName)) throw new Error(`no schema named ${schemaName} in ${OPENAPI_PATH}`);
    fn = instance.getSchema(`${DOC_ID}#/$defs/${schemaName}`);
    if (!fn) throw new Error(`could not compile schema ${schemaName}`);
    compiled.set(schemaName, fn);
  }
  return fn;
}

export function validate(schemaName: string, data: unknown): { valid: boolean; errors: string } {
  const fn = validator(schemaName);
  const valid = fn(data) === true;
  return {
    valid,
    errors: valid
      ? ''
      : (fn.errors ?? [])
          .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`)
          .join('\n'),
  };
}

/** Throws, listing every violation, unless `data` matches `#/components/schemas/<schemaName>`. */
export function expectSchema(schemaName: string, data: unknown): void {
  const { valid, errors } = validate(schemaName, data);
  if (!valid) {
    const shown = JSON.stringify(data) ?? String(data);
    const clipped = shown.length > 2000 ? `${shown.slice(0, 2000)}…` : shown;
    throw new Error(`expected a valid ${schemaName}:\n${errors}\ndata: ${clipped}`);
  }
}
