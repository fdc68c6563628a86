import { Tabs } from '@mantine/core';
import { useLocation, useNavigate } from 'react-router';
import { PageHeader } from '../../components/PageHeader.tsx';
import { Export } from './Export.tsx';
import { PlanApply } from './PlanApply.tsx';

const TABS = [
  { path: '/state', label: 'Export' },
  { path: '/state/plan', label: 'Plan & apply' },
] as const;

/** State as code: export the state as one document; plan a document against it and apply that plan. */
export default function State() {
  const { pathname } = useLocation();
  const navigate = useNavigate();
  const current = TABS.find((t) => t.path === pathname.replace(/\/+$/, ''))?.path ?? '/state';
  return (
    <>
      <PageHeader
        title="State"
        description="Roles, assignments, users, webhooks, plugins, sign-in providers, audit streams and settings as one document: export it, keep it in version control, plan and apply it."
      />
      <Tabs value={current} onChange={(v) => v && void navigate(v)} keepMounted={false}>
        <Tabs.List mb="md">
          {TABS.map((t) => (
            <Tabs.Tab key={t.path} value={t.path}>
              {t.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        <Tabs.Panel value="/state">
          <Export />
        </Tabs.Panel>
        <Tabs.Panel value="/state/plan">
          <PlanApply />
        </Tabs.Panel>
      </Tabs>
    </>
  );
}
