import { createBrowserRouter, type LoaderFunctionArgs, type RouteObject } from 'react-router';
import { queryClient } from './api.ts';
import { Layout } from './components/Layout.tsx';
import { RequireSignIn } from './components/RequireSignIn.tsx';
import { RouteError } from './components/RouteError.tsx';
import { cursorListOptions } from './hooks/use-cursor-list.ts';
import { meQuery } from './hooks/use-me.ts';
import Users from './pages/Users/index.tsx';
import { usersQuery, type Kind } from './pages/Users/list.ts';
import { credential } from './session.ts';

// Every page but Users is its own chunk, loaded on first visit, so the first load carries only the shell. Users
// is in the entry: a cold visit to the console's main list otherwise waited for the entry to run before asking
// for the page's chunk and the ~20 small shared chunks behind it, a second round of requests that queued on the
// browser's six connections ahead of the API calls (issue #8: ~0.3 s of a cold visit's ~1.2 s).
const page = (load: () => Promise<{ default: React.ComponentType }>): Pick<RouteObject, 'lazy'> => ({
  lazy: async () => ({ Component: (await load()).default }),
});

// Loaders start a page's first requests while its code is still downloading, instead of after it renders;
// they never wait, so an error still shows in the page itself.
const prefetchSignedIn = () => {
  if (credential.get()) queryClient.query(meQuery).catch(() => undefined);
  return null;
};
const prefetchUsers = ({ request }: LoaderFunctionArgs) => {
  const params = new URL(request.url).searchParams;
  const { queryKey, fetchPage } = usersQuery(params.get('q') ?? '', (params.get('kind') ?? 'all') as Kind);
  if (credential.get()) queryClient.infiniteQuery(cursorListOptions(queryKey, fetchPage)).catch(() => undefined);
  return null;
};

export const router = createBrowserRouter([
  { path: '/login', ...page(() => import('./pages/Login/index.tsx')) },
  {
    element: <RequireSignIn><Layout /></RequireSignIn>,
    loader: prefetchSignedIn,
    errorElement: <RouteError />,
    children: [
      { index: true, ...page(() => import('./pages/Dashboard/index.tsx')) },
      { path: 'users', loader: prefetchUsers, Component: Users },
      { path: 'users/:id', ...page(() => import('./pages/UserDetail/index.tsx')) },
      { path: 'roles', ...page(() => import('./pages/Roles/index.tsx')) },
      { path: 'roles/:id', ...page(() => import('./pages/RoleDetail/index.tsx')) },
      { path: 'tokens', ...page(() => import('./pages/Tokens/index.tsx')) },
      { path: 'audit', ...page(() => import('./pages/Audit/index.tsx')) },
      { path: 'config', ...page(() => import('./pages/Config/index.tsx')) },
      { path: 'plugins', ...page(() => import('./pages/Plugins/index.tsx')) },
      { path: 'webhooks', ...page(() => import('./pages/Webhooks/index.tsx')) },
      { path: 'webhooks/:id', ...page(() => import('./pages/WebhookDetail/index.tsx')) },
      { path: '*', ...page(() => import('./pages/NotFound/index.tsx')) },
    ],
  },
]);
