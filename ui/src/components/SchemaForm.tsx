import { Fieldset, NumberInput, Select, Stack, Switch, TagsInput, Textarea, TextInput } from '@mantine/core';
import { useState } from 'react';

/** The part of JSON Schema a settings form needs; anything else falls back to a JSON field. */
export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  writeOnly?: boolean;
  default?: unknown;
};

type Value = Record<string, unknown>;
type FieldProps = {
  name: string;
  schema: JsonSchema;
  value: unknown;
  onChange: (v: unknown) => void;
  pointer: string;
  errorOf: (pointer: string) => string | undefined;
  required: boolean;
};

const label = (name: string, schema: JsonSchema) =>
  schema.title ?? name.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
const choices = (schema: JsonSchema): string[] | undefined =>
  schema.enum?.map(String) ??
  (schema.anyOf?.every((s) => s.const !== undefined) ? schema.anyOf.map((s) => String(s.const)) : undefined);

/** Free-form values (maps, mixed unions) as JSON text, parsed when it is valid. */
function JsonField({ name, schema, value, onChange, pointer, errorOf }: FieldProps) {
  const [text, setText] = useState(JSON.stringify(value ?? schema.default ?? {}, null, 2));
  const [bad, setBad] = useState(false);
  return (
    <Textarea
      label={label(name, schema)}
      description={schema.description}
      autosize
      minRows={2}
      ff="monospace"
      value={text}
      error={bad ? 'Not valid JSON' : errorOf(pointer)}
      onChange={(e) => {
        setText(e.currentTarget.value);
        try {
          onChange(JSON.parse(e.currentTarget.value));
          setBad(false);
        } catch {
          setBad(true);
        }
      }}
    />
  );
}

function Field(props: FieldProps) {
  const { name, schema, value, onChange, pointer, errorOf, required } = props;
  const common = {
    label: label(name, schema),
    description: schema.description,
    error: errorOf(pointer),
    required,
  };
  const options = choices(schema);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (options)
    return (
      <Select
        {...common}
        data={options}
        value={
          typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
            ? String(value)
            : null
        }
        onChange={(v) => onChange(v ?? undefined)}
        clearable={!required}
      />
    );
  if (type === 'boolean')
    return (
      <Switch
        label={common.label}
        description={common.description}
        error={common.error}
        checked={value === true}
        onChange={(e) => onChange(e.currentTarget.checked)}
      />
    );
  if (type === 'integer' || type === 'number') {
    return (
      <NumberInput
        {...common}
        value={typeof value === 'number' ? value : ''}
        min={schema.minimum}
        max={schema.maximum}
        allowDecimal={type === 'number'}
        onChange={(v) => onChange(typeof v === 'number' ? v : undefined)}
      />
    );
  }
  if (type === 'string')
    return (
      <TextInput
        {...common}
        type={schema.writeOnly ? 'password' : 'text'}
        value={typeof value === 'string' ? value : ''}
        onChange={(e) => onChange(e.currentTarget.value || undefined)}
      />
    );
  if (
    type === 'array' &&
    schema.items &&
    ['string', 'integer', 'number'].includes(String(schema.items.type))
  ) {
    const numeric = schema.items.type !== 'string';
    const list = Array.isArray(value) ? value.map(String) : [];
    return (
      <TagsInput
        {...common}
        value={list}
        onChange={(v) => onChange(numeric ? v.map(Number).filter((n) => !Number.isNaN(n)) : v)}
        splitChars={[',', ' ']}
      />
    );
  }
  if (type === 'object' && schema.properties) {
    return (
      <Fieldset legend={common.label}>
        {schema.description && (
          <div style={{ fontSize: 'var(--mantine-font-size-xs)', opacity: 0.7, marginBottom: 8 }}>
            {schema.description}
          </div>
        )}
        <SchemaFields
          schema={schema}
          value={(value ?? {}) as Value}
          onChange={onChange}
          pointer={pointer}
          errorOf={errorOf}
        />
      </Fieldset>
    );
  }
  return <JsonField {...props} />;
}

/** The fields of an object schema, each editing its own key of `value`. */
export function SchemaFields({
  schema,
  value,
  onChange,
  pointer = '',
  errorOf,
}: {
  schema: JsonSchema;
  value: Value;
  onChange: (v: Value) => void;
  pointer?: string;
  errorOf: (pointer: string) => string | undefined;
}) {
  return (
    <Stack gap="sm">
      {Object.entries(schema.properties ?? {}).map(([key, sub]) => (
        <Field
          key={key}
          name={key}
          schema={sub}
          value={value[key]}
          pointer={`${pointer}/${key}`}
          errorOf={errorOf}
          required={schema.required?.includes(key) ?? false}
          onChange={(v) => {
            onChange(
              Object.fromEntries([
                ...Object.entries(value).filter(([k]) => k !== key),
                ...(v === undefined ? [] : [[key, v]]),
              ]) as Value,
            );
          }}
        />
      ))}
    </Stack>
  );
}
