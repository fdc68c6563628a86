import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useCredential } from '../hooks/use-credential.ts';

/** Sends a visitor without a credential to the sign-in page, remembering where they were going. */
export function RequireSignIn({ children }: { children: ReactNode }) {
  const signedIn = useCredential();
  const location = useLocation();
  if (!signedIn)
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return children;
}
