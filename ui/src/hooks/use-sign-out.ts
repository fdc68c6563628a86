import { useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { api } from '../api.ts';
import { credential } from '../session.ts';

/** Signs out: a password session is revoked on the server first; an API token is only forgotten here. */
export function useSignOut(): () => Promise<void> {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  return async () => {
    // A failed revoke (already expired, server away) must not keep the user signed in here.
    if (credential.get()?.kind === 'session') await api.POST('/api/auth/logout').catch(() => undefined);
    credential.set(null);
    queryClient.clear();
    await navigate('/login', { replace: true });
  };
}
