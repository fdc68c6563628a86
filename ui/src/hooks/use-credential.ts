import { useSyncExternalStore } from 'react';
import { credential, type Credential } from '../session.ts';

/** The signed-in credential, re-rendering when it changes (sign-in, sign-out, a 401). */
export function useCredential(): Credential | null {
  return useSyncExternalStore(credential.subscribe, credential.get);
}
