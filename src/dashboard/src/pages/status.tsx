const KIND: Record<string, string> = {
  success: 'ok',
  queued: 'busy',
  building: 'busy',
  starting: 'busy',
  deploying: 'busy',
  running: 'ok',
  aborted: 'muted',
};

/** A deployment's or container's status, coloured and always spelled out (colour is not the only cue). */
export function Status({ status }: { status: string }) {
  return (
    <span class={`status ${KIND[status] ?? 'bad'}`} data-status={status}>
      {status}
    </span>
  );
}
