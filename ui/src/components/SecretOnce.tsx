import { ActionIcon, Alert, Code, CopyButton, Group, Text, Tooltip } from '@mantine/core';

/** A secret the server shows once: the value, a copy button and the warning that it will not come back. */
export function SecretOnce({ secret, what }: { secret: string; what: string }) {
  return (
    <Alert color="yellow" title={`Copy the ${what} now`} role="status">
      <Text size="sm" mb="xs">
        It is shown only this once. Gatehouse keeps only a hash of it; if you lose it, rotate it.
      </Text>
      <Group gap="xs" wrap="nowrap">
        <Code block data-testid="secret" style={{ flex: 1, wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>
          {secret}
        </Code>
        <CopyButton value={secret} timeout={2000}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? 'Copied' : 'Copy'}>
              <ActionIcon
                variant="light"
                color={copied ? 'teal' : 'gray'}
                onClick={copy}
                aria-label={`Copy the ${what}`}
                size="lg"
              >
                <svg
                  width="16"
                  height="16"
                  viewBox="0 0 24 24"
                  fill="none"
                  stroke="currentColor"
                  strokeWidth="2"
                  strokeLinecap="round"
                  strokeLinejoin="round"
                  aria-hidden="true"
                >
                  {copied ? (
                    <path d="M5 12l5 5L20 7" />
                  ) : (
                    <>
                      <rect x="9" y="9" width="12" height="12" rx="2" />
                      <path d="M5 15V5a2 2 0 0 1 2-2h10" />
                    </>
                  )}
                </svg>
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      </Group>
    </Alert>
  );
}
