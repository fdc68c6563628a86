import { QueryClient } from '@tanstack/react-query';
import { ApiProblem, createClient, unwrap } from '@gatehouse/client';
import { credential } from './session.ts';

/** The console's only way to the API: the typed client, same origin, with the signed-in token. */
export const api = createClient({ baseUrl: window.location.origin, token: credential.token });

// A 401 on anything but the sign-in itself means the token expired or was revoked: back to the sign-in page.
api.use({
  async onResponse({ response, request }) {
    if (response.status === 401 && !/\/api\/auth\/(login|oidc)/.test(request.url) && credential.get())
      credential.set(null);
    // A role of this person requires a second factor they do not have yet: the console sends them to enrol.
    if (response.status === 403) {
      const body = (await response
        .clone()
        .json()
        .catch(() => null)) as { code?: string } | null;
      if (body?.code === 'mfa_enrollment_required') window.dispatchEvent(new Event(MFA_REQUIRED_EVENT));
    }
    return response;
  },
});

/** Dispatched on `window` when the API answers `mfa_enrollment_required` (the layout then opens /account). */
export const MFA_REQUIRED_EVENT = 'gatehouse:mfa-enrollment-required';

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
