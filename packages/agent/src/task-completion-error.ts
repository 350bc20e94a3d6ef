/**
 * Writ's agent API refused to end a task. Carries the HTTP status and, when the answer is an RFC 6750
 * §3 / RFC 9449 §7.1 style denial body, its `error`, `error_description` and Writ's stable error `code`.
 */
export class TaskCompletionError extends Error {
  readonly status: number;
  readonly error: string | undefined;
  readonly error_description: string | undefined;
  /** Writ's machine-readable code (`ERR_REVOKED_TASK`, …) when the server gave one. */
  readonly code: string | undefined;

  constructor(status: number, body: { error?: string; error_description?: string; code?: string } = {}) {
    super(
      `task completion refused (${status})${body.error !== undefined ? `: ${body.error}` : ''}` +
        `${body.error_description !== undefined ? `: ${body.error_description}` : ''}`,
    );
    this.name = 'TaskCompletionError';
    this.status = status;
    this.error = body.error;
    this.error_description = body.error_description;
    this.code = body.code;
  }
}
