import { createBrowserRouter, type RouteObject } from 'react-router';
import { Layout } from './components/Layout.tsx';
import { RequireSignIn } from './components/RequireSignIn.tsx';
import { RouteError } from './components/RouteError.tsx';

// Every page is its own chunk, loaded on first visit, so the first load carries only the shell.
const page = (load: () => Promise<{ default: React.ComponentType }>): Pick<RouteObject, 'lazy'> => ({
  lazy: async () => ({ Component: (await load()).default }),
});

export const router = createBrowserRouter([
  { path: '/login', ...page(() => import('./pages/Login/index.tsx')) },
  {
    element: <RequireSignIn><Layout /></RequireSignIn>,
    errorElement: <RouteError />,
    children: [
      { index: true, ...page(() => import('./pages/Dashboard/index.tsx')) },
      { path: 'users', ...page(() => import('./pages/Users/index.tsx')) },
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
