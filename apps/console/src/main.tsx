/**
 * Writ's operator console: sign-in, the layout, and the pages (hash routes, so the server serves one page). Every
 * page reads the admin API; nothing here is a second source of truth.
 */
import { render } from 'preact';
import { useEffect, useErrorBoundary, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { loadSession, onSignedOut, signOut, type Session } from './api.js';
import { onLiveStatus, startLive, stopLive } from './live.js';
import { SessionContext } from './ui.js';
import { OverviewPage } from './pages/overview.js';
import { AgentsPage } from './pages/agents.js';
import { TasksPage } from './pages/tasks.js';
import { AuditPage } from './pages/audit.js';
import { GrantsPage } from './pages/grants.js';
import { ResourcesPage } from './pages/resources.js';
import { ApprovalsPage } from './pages/approvals.js';

const PAGES = [
  { path: 'overview', label: 'Overview', page: OverviewPage },
  { path: 'agents', label: 'Agents', page: AgentsPage },
  { path: 'tasks', label: 'Tasks', page: TasksPage },
  { path: 'audit', label: 'Audit', page: AuditPage },
  { path: 'grants', label: 'Grants', page: GrantsPage },
  { path: 'resources', label: 'Resources & secrets', page: ResourcesPage },
  { path: 'approvals', label: 'Approvals', page: ApprovalsPage },
] as const;

/** `#/audit?task=…` → the page and its parameters. */
function route(): { path: string; params: URLSearchParams } {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path = '', q = ''] = hash.split('?', 2);
  return { path: PAGES.some((p) => p.path === path) ? path : 'overview', params: new URLSearchParams(q) };
}

function useRoute(): { path: string; params: URLSearchParams } {
  const [r, setR] = useState(route);
  useEffect(() => {
    const f = () => setR(route());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return r;
}

function SignIn({ problem }: { problem?: string }) {
  useEffect(() => {
    document.title = 'Sign in · Writ console';
  }, []);
  return (
    <main id="main" class="signin">
      <h1>Writ console</h1>
      <p>Watch and stop agents, their tasks and their calls. Sign in with your organisation's account.</p>
      {problem !== undefined && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <p>
        <a class="button primary" href="/console/login">
          Sign in
        </a>
      </p>
    </main>
  );
}

/** A page that fails to render says so in its place; the header, navigation and other pages keep working. */
function PageBoundary({ children }: { children: ComponentChildren }) {
  const [error, reset] = useErrorBoundary();
  if (error === undefined) return <>{children}</>;
  return (
    <div class="error" role="alert">
      <p>This page failed to show: {error instanceof Error ? error.message : String(error)}</p>
      <button type="button" onClick={reset}>
        Try again
      </button>
    </div>
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut(): void }) {
  const { path, params } = useRoute();
  const [live, setLive] = useState(false);
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => onLiveStatus(setLive), []);
  // Moving to another page moves focus to its content, so keyboard and screen-reader users start there (in the same
  // task as the new page's render, so nothing is announced or focusable in between).
  useLayoutEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [path]);
  const Page = (PAGES.find((p) => p.path === path) ?? PAGES[0]).page;
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), main.current?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Writ console</span>
        <span class={live ? 'live on' : 'live'} role="status">
          {live ? 'Live' : 'Reconnecting…'}
        </span>
        <span class="who">
          {session.name} <span class="role">{session.role === 'admin' ? 'admin' : 'read-only'}</span>
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <div class="layout">
        <nav aria-label="Console sections">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={p.path === path ? 'page' : undefined}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" ref={main} tabIndex={-1} aria-labelledby="page-title">
          <PageBoundary key={path}>
            <Page params={params} />
          </PageBoundary>
        </main>
      </div>
    </SessionContext.Provider>
  );
}

function App() {
  const [session, setSession] = useState<Session | undefined | null>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  useEffect(() => {
    loadSession().then(
      (s) => setSession(s ?? null),
      (err: unknown) => {
        setProblem(err instanceof Error ? err.message : String(err));
        setSession(null);
      },
    );
    return onSignedOut(() => {
      stopLive();
      setSession(null);
      setProblem('Your console session is over. Sign in again.');
    });
  }, []);
  useEffect(() => {
    if (session !== undefined && session !== null) startLive(() => setSession(null));
  }, [session]);
  if (session === undefined)
    return (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  if (session === null) return <SignIn {...(problem !== undefined ? { problem } : {})} />;
  return (
    <Shell
      session={session}
      onSignOut={() => {
        void signOut().then(() => setProblem(undefined));
      }}
    />
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
