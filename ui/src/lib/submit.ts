/** A form's onSubmit: no page reload, then `action`. */
export function onSubmit(action: () => void) {
  return (event: { preventDefault: () => void }) => {
    event.preventDefault();
    action();
  };
}
