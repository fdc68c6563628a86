import { Button, FileInput, Group, Paper, Stack, Switch, Text, Textarea } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';

type Props = {
  text: string;
  onText: (text: string) => void;
  prune: boolean;
  onPrune: (prune: boolean) => void;
  onPlan: () => void;
  planning: boolean;
};

/** The document to plan: pasted, uploaded, or started from the current state; and whether to prune. */
export function DocumentInput({ text, onText, prune, onPrune, onPlan, planning }: Props) {
  const loadExport = useMutation({
    mutationFn: async () => {
      const current = await unwrap(api.GET('/api/export', { parseAs: 'text' }));
      onText(`${JSON.stringify(JSON.parse(current), null, 2)}\n`);
    },
  });
  return (
    <Paper withBorder p="md">
      <Stack>
        <Textarea
          label="Document"
          description="JSON or YAML, as the export writes it. Lists left out are not managed; secrets are never part of it."
          placeholder='{ "version": 1, "roles": [ … ] }'
          value={text}
          onChange={(e) => onText(e.currentTarget.value)}
          autosize
          minRows={10}
          maxRows={28}
          spellCheck={false}
          styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 12 } }}
        />
        <Group align="flex-end" gap="md" wrap="wrap">
          <FileInput
            label="Or upload a file"
            placeholder="gatehouse-state.json or .yaml"
            accept=".json,.yaml,.yml,application/json,application/yaml,text/yaml"
            value={null}
            onChange={(file) => void file?.text().then(onText)}
            w={260}
          />
          <Button variant="default" onClick={() => loadExport.mutate()} loading={loadExport.isPending}>
            Start from the current state
          </Button>
        </Group>
        <ProblemAlert error={loadExport.error} title="The current state could not be read" />
        <Switch
          label="Prune"
          description="Delete what a listed kind holds and the document does not (built-in roles are never deleted)."
          checked={prune}
          onChange={(e) => onPrune(e.currentTarget.checked)}
        />
        <Group>
          <Button onClick={onPlan} loading={planning}>
            Plan
          </Button>
          <Text size="sm" c="dimmed">
            Planning changes nothing.
          </Text>
        </Group>
      </Stack>
    </Paper>
  );
}
