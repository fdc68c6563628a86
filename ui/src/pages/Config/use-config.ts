import { useQuery } from '@tanstack/react-query';
import type { ConfigDocument } from '../../../../src/client/index.ts';
import { api, unwrap } from '../../api.ts';
import type { JsonSchema } from '../../components/SchemaForm.tsx';

/** The settings with the ETag they were read at: every write sends it back as If-Match. */
export function useConfig() {
  return useQuery({
    queryKey: ['config'],
    queryFn: async () => {
      const res = await api.GET('/api/config');
      const document: ConfigDocument = await unwrap(Promise.resolve(res));
      return { document, etag: res.response.headers.get('etag') ?? undefined };
    },
  });
}

export function useConfigSchema() {
  return useQuery({
    queryKey: ['config', 'schema'],
    queryFn: async () => (await unwrap(api.GET('/api/config/schema'))) as JsonSchema,
    staleTime: Infinity,
  });
}

/** Writes `value` at a JSON Pointer inside a copy of `doc`, creating objects on the way. */
export function setAt(doc: unknown, pointer: string, value: unknown): unknown {
  const keys = pointer
    .split('/')
    .slice(1)
    .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  const root = structuredClone(doc ?? {}) as Record<string, unknown>;
  let node = root;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) {
      // Reflect.deleteProperty: the key comes from a pointer, so it is dynamic by nature.
      if (value === undefined) Reflect.deleteProperty(node, key);
      else node[key] = value;
      return;
    }
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  });
  return root;
}
