import { ActionIcon, Alert, Code, CopyButton, Group, Text, Tooltip } from '@mantine/core';

/** A secret the server shows once: the value, a copy button and the warning that it will not come back. */
export function SecretOnce({ secret, what }: { secret: string; what: string }) {
  return (
    <Alert color="yellow" title={`Copy the ${what} now`} role="status">
      <Text size="sm" mb="xs">It is shown only this once. Gatehouse keeps only a hash of it; if you lose it, rotate it.</Text>
      <Group gap="xs" wrap="nowrap">
        <Code block data-testid="secret" style={{ flex: 1, wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{secret}</Code>
        <CopyButton value={secret} timeout={2000}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? 'Copied' : 'Copy'}>
              <ActionIcon variant="light" color={copied ? 'teal' : 'gray'} onClick={copy} aria-label={`Copy the ${what}`} size="lg">
                {copied ? '✓' : '⧉'}
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      </Group>
    </Alert>
  );
}
