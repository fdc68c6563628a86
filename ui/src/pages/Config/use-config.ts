import { useQuery } from '@tanstack/react-query';
import type { ConfigDocument } from '@gatehouse/client';
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
