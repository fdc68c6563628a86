import { Alert, Button, Group, Modal, Stack, Text } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { ConfigDocument } from '@gatehouse/client';
import { api, ApiProblem, unwrap } from '../../api.ts';
import { JsonDiff } from '../../components/JsonDiff.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';

type Props = {
  base: ConfigDocument;
  draft: unknown;
  etag: string | undefined;
  onClose: () => void;
  onSaved: (version: number) => void;
  onRebase: () => void;
};

/** The diff of what will change, then the save with If-Match; a stale version is explained, not lost. */
export function ReviewModal({ base, draft, etag, onClose, onSaved, onRebase }: Props) {
  const queryClient = useQueryClient();
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PUT('/api/config', {
          body: draft as ConfigDocument,
          params: { header: etag ? { 'if-match': etag } : {} },
        }),
      ),
    onSuccess: async (result) => {
      await queryClient.invalidateQueries({ queryKey: ['config'] });
      onSaved(result.version);
    },
  });
  const stale = save.error instanceof ApiProblem && save.error.status === 412;
  return (
    <Modal opened onClose={onClose} title="Review changes" size="xl">
      <Stack>
        <JsonDiff label="Pending changes" before={base} after={draft} />
        {stale ? (
          <Alert color="orange" title="Someone else changed the settings meanwhile" role="alert">
            <Text size="sm">
              Your changes were not saved, and they are not lost either. Saving now would overwrite a version
              you have not seen. Load the latest settings with your changes applied on top, check the diff
              again, then save.
            </Text>
            <Button mt="sm" variant="light" color="orange" onClick={onRebase}>
              Load the latest and reapply my changes
            </Button>
          </Alert>
        ) : (
          <ProblemAlert error={save.error} />
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Keep editing
          </Button>
          <Button onClick={() => save.mutate()} loading={save.isPending} disabled={stale}>
            Save settings
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
