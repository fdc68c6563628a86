import { AppShell, Box, Burger, Group, Loader, Menu, NavLink, Text, UnstyledButton } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { Suspense, useEffect } from 'react';
import { NavLink as RouterLink, Outlet, useLocation, useNavigate } from 'react-router';
import type { Permission } from '@gatehouse/client';
import { useCan, useMe } from '../hooks/use-me.ts';
import { useSignOut } from '../hooks/use-sign-out.ts';
import { MFA_REQUIRED_EVENT } from '../api.ts';

const NAV: { to: string; label: string; scope?: Permission }[] = [
  { to: '/', label: 'Dashboard' },
  { to: '/users', label: 'Users', scope: 'users:read' },
  { to: '/roles', label: 'Roles', scope: 'roles:read' },
  { to: '/tokens', label: 'Tokens' },
  { to: '/audit', label: 'Audit log', scope: 'audit:read' },
  { to: '/config', label: 'Config', scope: 'config:read' },
  { to: '/state', label: 'State', scope: 'config:read' },
  { to: '/plugins', label: 'Plugins', scope: 'plugins:read' },
  { to: '/webhooks', label: 'Webhooks', scope: 'webhooks:read' },
  { to: '/sign-in', label: 'Sign-in', scope: 'auth:read' },
];

/** The console frame: navigation limited to what the token may read, who is signed in, and the page. */
export function Layout() {
  const [opened, { toggle, close }] = useDisclosure();
  const can = useCan();
  useMfaEnrolmentRedirect();
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="lg"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="sm">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label="Toggle navigation"
            />
            <img src="/favicon.svg" alt="" width={24} height={24} />
            <Text fw={700}>Gatehouse</Text>
          </Group>
          <AccountMenu />
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        {NAV.filter((n) => !n.scope || can(n.scope)).map((n) => (
          <NavLink
            key={n.to}
            component={RouterLink}
            to={n.to}
            end={n.to === '/'}
            label={n.label}
            onClick={close}
          />
        ))}
        <Box mt="auto" p="xs">
          <a href="/docs" target="_blank" rel="noreferrer">
            <Text size="xs" c="dimmed">
              API reference
            </Text>
          </a>
        </Box>
      </AppShell.Navbar>
      <AppShell.Main>
        <Suspense fallback={<Loader />}>
          <Outlet />
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}

function AccountMenu() {
  const me = useMe();
  const signOut = useSignOut();
  const navigate = useNavigate();
  if (!me.data) return <Loader size="xs" />;
  const { user, token } = me.data;
  return (
    <Menu position="bottom-end" withArrow>
      <Menu.Target>
        <UnstyledButton aria-label="Account">
          <Text size="sm" fw={500} data-testid="signed-in-as">
            {user.display_name ?? user.username}
          </Text>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>
          {token.kind === 'session' ? 'Signed in with a session' : 'Signed in with an API token'}
        </Menu.Label>
        <Menu.Item onClick={() => void navigate(`/users/${user.id}`)}>Your account</Menu.Item>
        <Menu.Item onClick={() => void navigate('/account')}>Sign-in security</Menu.Item>
        <Menu.Item onClick={() => void navigate('/tokens')}>Your tokens</Menu.Item>
        <Menu.Divider />
        <Menu.Item color="red" onClick={() => void signOut()}>
          Sign out
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

/** When the API says this person must enrol a second factor first, opens the page where they do. */
function useMfaEnrolmentRedirect() {
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const mustEnrol = useMe().data?.mfa_enrollment_required ?? false;
  useEffect(() => {
    const go = () => void navigate('/account', { state: { mfaRequired: true } });
    if (mustEnrol && pathname !== '/account') go();
    window.addEventListener(MFA_REQUIRED_EVENT, go);
    return () => window.removeEventListener(MFA_REQUIRED_EVENT, go);
  }, [navigate, mustEnrol, pathname]);
}
