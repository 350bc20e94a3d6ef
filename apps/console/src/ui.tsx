/** What every page shares: data that follows the live stream, errors, times, confirmations, role checks. */
import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Session } from './api.js';
import { onChange } from './live.js';

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (s === undefined) throw new Error('no session');
  return s;
}

/** Whether the signed-in person may change things (the server decides; this only hides what it would refuse). */
export function useCanChange(): boolean {
  return useSession().role === 'admin';
}

export interface Data<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/**
 * GET `path` (under /admin/v1) now, whenever it changes, and — when `live` — whenever the audit log moves (a change
 * anywhere: a task started or ended, a call, a decision), at most once per `everyMs` (default 1 s): under heavy
 * traffic the log moves every second, and a page must not turn that into a query storm. Null: nothing to load yet.
 */
export function useData<T>(path: string | null, o: { live?: boolean; everyMs?: number } = {}): Data<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: path !== null,
  });
  const current = useRef(path);
  current.current = path;
  const load = useCallback(
    (background: boolean) => {
      if (path === null) return;
      if (!background) setState((s) => ({ ...s, loading: true }));
      api<T>('GET', path, undefined, { background }).then(
        (data) => {
          if (current.current === path) setState({ data, error: undefined, loading: false });
        },
        (error: unknown) => {
          if (current.current === path) setState((s) => ({ ...s, error, loading: false }));
        },
      );
    },
    [path],
  );
  useEffect(() => load(false), [load]);
  const every = o.everyMs ?? 1000;
  useEffect(() => {
    if (o.live !== true) return undefined;
    let last = 0;
    let pending: ReturnType<typeof setTimeout> | undefined;
    const off = onChange(() => {
      if (pending !== undefined) return;
      const wait = Math.max(0, last + every - Date.now());
      pending = setTimeout(() => {
        pending = undefined;
        last = Date.now();
        load(true);
      }, wait);
    });
    return () => {
      off();
      if (pending !== undefined) clearTimeout(pending);
    };
  }, [load, o.live, every]);
  return { ...state, reload: () => load(false) };
}

export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const e = error instanceof ApiError ? error : undefined;
  return (
    <div class="error" role="alert">
      <strong>{e?.code ?? 'Error'}</strong>: {error instanceof Error ? error.message : String(error)}
      {e !== undefined && e.details.length > 0 && (
        <ul>
          {e.details.map((d) => (
            <li key={d}>{d}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Time({ ms }: { ms: number | null | undefined }) {
  if (ms === null || ms === undefined) return <span class="muted">—</span>;
  const d = new Date(ms);
  return (
    <time dateTime={d.toISOString()} title={d.toISOString()}>
      {d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' })}
    </time>
  );
}

export function Status({ value }: { value: string }) {
  return <span class={`status status-${value.replace(/[^a-z_-]/gi, '')}`}>{value}</span>;
}

export function Loading({ when }: { when: boolean }) {
  return when ? (
    <p class="muted" role="status">
      Loading…
    </p>
  ) : null;
}

export interface ConfirmRequest {
  title: string;
  /** What will stop or change, in words: shown before anything happens. */
  consequence: ComponentChildren;
  confirmLabel: string;
  /** Ask for a reason (recorded in the audit log). */
  reason?: boolean;
  danger?: boolean;
  run(reason: string): Promise<unknown>;
}

/** A modal confirmation (`<dialog>`: focus held inside, Escape cancels) that says what will happen before it does. */
export function Confirm({ request, onClose }: { request: ConfirmRequest | undefined; onClose(done: boolean): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (d === null) return;
    if (request !== undefined && !d.open) {
      setReason('');
      setError(undefined);
      d.showModal();
    } else if (request === undefined && d.open) d.close();
  }, [request]);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (request === undefined) return;
    setBusy(true);
    setError(undefined);
    try {
      await request.run(reason.trim());
      onClose(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onClose={() => request !== undefined && onClose(false)}>
      {request !== undefined && (
        <form method="dialog" onSubmit={(e) => void submit(e)}>
          <h2 id="confirm-title">{request.title}</h2>
          <div class="consequence">{request.consequence}</div>
          {request.reason === true && (
            <p>
              <label for="confirm-reason">Reason (kept in the audit log)</label>
              <input id="confirm-reason" required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
            </p>
          )}
          <ErrorNote error={error} />
          <div class="actions">
            <button type="button" onClick={() => onClose(false)}>
              Cancel
            </button>
            <button type="submit" class={request.danger === true ? 'danger' : 'primary'} disabled={busy}>
              {request.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

/** A button that changes something only after a confirmation that says what will happen (`confirmLabel` defaults to its label). */
export function ConfirmButton({
  label,
  ask,
  request,
}: {
  label: string;
  ask(r: ConfirmRequest): void;
  request: Omit<ConfirmRequest, 'confirmLabel'> & { confirmLabel?: string };
}) {
  return (
    <button type="button" class={request.danger === true ? 'danger' : undefined} onClick={() => ask({ confirmLabel: label, ...request })}>
      {label}
    </button>
  );
}

/** A confirmation to ask, and the element that asks it. */
export function useConfirm(onDone?: () => void): [ComponentChildren, (r: ConfirmRequest) => void] {
  const [request, setRequest] = useState<ConfirmRequest | undefined>(undefined);
  const element = (
    <Confirm
      request={request}
      onClose={(done) => {
        setRequest(undefined);
        if (done) onDone?.();
      }}
    />
  );
  return [element, setRequest];
}

export function PageTitle({ children }: { children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${typeof children === 'string' ? children : 'Console'} · Writ`;
  }, [children]);
  return <h1 id="page-title">{children}</h1>;
}
