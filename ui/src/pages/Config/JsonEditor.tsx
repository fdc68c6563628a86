import { json } from '@codemirror/lang-json';
import { Text } from '@mantine/core';
import { useColorScheme } from '@mantine/hooks';
import CodeMirror from '@uiw/react-codemirror';
import { useState } from 'react';

const extensions = [json()];

/** The settings as JSON in CodeMirror; the parent gets the parsed value whenever the text is valid JSON. */
export function JsonEditor({ value, onChange }: { value: unknown; onChange: (v: unknown) => void }) {
  const [text, setText] = useState(() => JSON.stringify(value, null, 2));
  const [syntax, setSyntax] = useState<string | null>(null);
  const scheme = useColorScheme();
  return (
    <>
      <CodeMirror
        value={text}
        height="480px"
        theme={scheme}
        extensions={extensions}
        aria-label="Settings JSON"
        basicSetup={{ foldGutter: true, highlightActiveLine: true }}
        onChange={(next) => {
          setText(next);
          try {
            onChange(JSON.parse(next));
            setSyntax(null);
          } catch (err) {
            setSyntax(err instanceof Error ? err.message : 'Not valid JSON');
          }
        }}
      />
      {syntax && (
        <Text c="red" size="sm" mt={4} role="alert">
          JSON syntax: {syntax}
        </Text>
      )}
    </>
  );
}
