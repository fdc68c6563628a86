import { Button, Stack, Text, Title } from '@mantine/core';
import { Link, useLocation } from 'react-router';

export default function NotFound() {
  const { pathname } = useLocation();
  return (
    <Stack align="flex-start" py="xl">
      <Title order={2}>No such page</Title>
      <Text c="dimmed">
        Nothing lives at <code>{pathname}</code>.
      </Text>
      <Button component={Link} to="/">
        Go to the dashboard
      </Button>
    </Stack>
  );
}
