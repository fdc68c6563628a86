import { Button, Container, Stack, Text, Title } from '@mantine/core';
import { isRouteErrorResponse, useRouteError } from 'react-router';

/** What a page that failed to load or render shows, with a way back. */
export function RouteError() {
  const error = useRouteError();
  const message = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : error instanceof Error
      ? error.message
      : String(error);
  return (
    <Container size="sm" py={80}>
      <Stack align="flex-start">
        <Title order={2}>This page could not be shown</Title>
        <Text c="dimmed">{message}</Text>
        <Text size="sm">If the console was just upgraded, reloading fetches the new version.</Text>
        <Button onClick={() => window.location.reload()}>Reload</Button>
      </Stack>
    </Container>
  );
}
