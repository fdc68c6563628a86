import { useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { credential, type Credential } from '../session.ts';

/** Keeps a new credential (forgetting the previous one's cached answers) and goes on to `from`. */
export function useSignIn(from: string) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return (next: Credential) => {
    queryClient.clear();
    credential.set(next);
    void navigate(from, { replace: true });
  };
}
