/**
 * The live stream (`/console/events`): each `change` names the audit log's new head; pages read the admin API again.
 * The browser's EventSource reconnects by itself; a `signed-out` event ends it.
 */
type Listener = (seq: number) => void;

const listeners = new Set<Listener>();
let source: EventSource | undefined;
let connected = false;
const statusListeners = new Set<(connected: boolean) => void>();

export function startLive(onSignedOut: () => void): void {
  if (source !== undefined) return;
  source = new EventSource('/console/events');
  source.addEventListener('open', () => setConnected(true));
  source.addEventListener('error', () => setConnected(false));
  source.addEventListener('change', (e) => {
    const seq = Number((JSON.parse((e as MessageEvent<string>).data) as { seq?: unknown }).seq);
    for (const l of listeners) l(seq);
  });
  source.addEventListener('signed-out', () => {
    stopLive();
    onSignedOut();
  });
}

export function stopLive(): void {
  source?.close();
  source = undefined;
  setConnected(false);
}

export function onChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function onLiveStatus(l: (connected: boolean) => void): () => void {
  statusListeners.add(l);
  l(connected);
  return () => statusListeners.delete(l);
}

function setConnected(c: boolean): void {
  connected = c;
  for (const l of statusListeners) l(c);
}
