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

// Loaders start a page's first requests while its code is still downloading, instead of after it renders. On a
// cold start they also hold the first render until those answers are in (or FIRST_DATA_MS has passed): the page
// then renders once, with its data, instead of a skeleton first and every component again when the data lands
// (~140 ms of main thread on a cold visit to /users, issue #8). Later navigations never wait: a page shows its
// own loading state at once. A failed request is not the loader's business: the page shows the error itself.
const FIRST_DATA_MS = 300;
let coldStart = true;
/** What a cold start shows while its loaders wait: nothing, as before the first render. */
const ColdStart = () => null;
const firstData = (request: Promise<unknown>): Promise<null> | null => {
  const settled = request.then(
    () => null,
    () => null,
  );
  return coldStart
    ? Promise.race([settled, new Promise<null>((resolve) => setTimeout(() => resolve(null), FIRST_DATA_MS))])
    : null;
};
const prefetchSignedIn = () => (credential.get() ? firstData(queryClient.query(meQuery)) : null);
const prefetchUsers = ({ request }: LoaderFunctionArgs) => {
  const params = new URL(request.url).searchParams;
  const { queryKey, fetchPage } = usersQuery(params.get('q') ?? '', (params.get('kind') ?? 'all') as Kind);
  return credential.get()
    ? firstData(queryClient.infiniteQuery(cursorListOptions(queryKey, fetchPage)))
    : null;
};

export const router = createBrowserRouter([
  { path: '/login', HydrateFallback: ColdStart, ...page(() => import('./pages/Login/index.tsx')) },
  {
    element: (
      <RequireSignIn>
        <Layout />
      </RequireSignIn>
    ),
    loader: prefetchSignedIn,
    HydrateFallback: ColdStart,
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
      { path: 'state', ...page(() => import('./pages/State/index.tsx')) },
      { path: 'state/plan', ...page(() => import('./pages/State/index.tsx')) },
      { path: 'plugins', ...page(() => import('./pages/Plugins/index.tsx')) },
      { path: 'webhooks', ...page(() => import('./pages/Webhooks/index.tsx')) },
      { path: 'webhooks/:id', ...page(() => import('./pages/WebhookDetail/index.tsx')) },
      { path: 'account', ...page(() => import('./pages/Account/index.tsx')) },
      { path: 'sign-in', ...page(() => import('./pages/Providers/index.tsx')) },
      { path: '*', ...page(() => import('./pages/NotFound/index.tsx')) },
    ],
  },
]);

// The cold start ends when the first page has loaded.
const endColdStart = () => {
  coldStart = false;
  unsubscribe();
};
const unsubscribe = router.subscribe((state) => state.initialized && endColdStart());
if (router.state.initialized) endColdStart();
