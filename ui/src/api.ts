import { QueryClient } from '@tanstack/react-query';
import { ApiProblem, createClient, unwrap } from '../../src/client/index.ts';
import { credential } from './session.ts';

/** The console's only way to the API: the typed client, same origin, with the signed-in token. */
export const api = createClient({ baseUrl: window.location.origin, token: credential.token });

// A 401 on anything but the sign-in itself means the token expired or was revoked: back to the sign-in page.
api.use({
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.endsWith('/api/auth/login') && credential.get())
      credential.set(null);
    return response;
  },
});

export { ApiProblem, unwrap };

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      refetchOnWindowFocus: false,
      retry: (count, error) =>
        !(error instanceof ApiProblem && error.status >= 400 && error.status < 500) && count < 2,
    },
  },
});
