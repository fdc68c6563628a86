import { Alert, Button, Code, CopyButton, Group, SimpleGrid, Text } from '@mantine/core';

/** Ten one-time recovery codes, shown once, with a way to copy them all. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  return (
    <Alert color="yellow" title="Save your recovery codes now" role="status" data-testid="recovery-codes">
      <Text size="sm" mb="xs">
        Each code signs you in once if you lose your factors. They are shown only this once: Gatehouse keeps
        only their hashes.
      </Text>
      <SimpleGrid cols={2} spacing={4} mb="sm">
        {codes.map((c) => (
          <Code key={c}>{c}</Code>
        ))}
      </SimpleGrid>
      <Group gap="xs">
        <CopyButton value={codes.join('\n')}>
          {({ copied, copy }) => (
            <Button size="xs" variant="light" onClick={copy}>
              {copied ? 'Copied' : 'Copy all'}
            </Button>
          )}
        </CopyButton>
        <Button size="xs" variant="default" onClick={onDone}>
          I saved them
        </Button>
      </Group>
    </Alert>
  );
}
