/**
 * An incremental parser for `text/event-stream` (WHATWG HTML, "Server-sent events", §9.2.6 "Interpreting an event
 * stream"): lines end in CRLF, LF or CR (also across chunk boundaries); `field: value` with one optional space;
 * `data` lines join with LF; a blank line dispatches; an `id` with NUL is ignored; lines starting with `:` are
 * comments (Writ's heartbeats). A line longer than `maxLineLength`, or an event whose data outgrows it, is an error:
 * a feed that never ends a line must not grow memory without bound.
 */

export interface SseEvent {
  /** The `event` field, `message` when absent. */
  type: string;
  data: string;
  /** The last event ID after this event (carried over from earlier events when this one has no `id`). */
  id: string;
}

export interface SseParser {
  /** Feed decoded text; throws RangeError when a line or an event exceeds the bound. */
  push(text: string): void;
}

export function createSseParser(handlers: {
  onEvent(event: SseEvent): void;
  onComment?(text: string): void;
  maxLineLength?: number;
}): SseParser {
  const max = handlers.maxLineLength ?? 64 * 1024;
  let buffer = '';
  let skipLf = false;
  let data = '';
  let hasData = false;
  let type = '';
  let lastId = '';

  function line(l: string): void {
    if (l === '') {
      if (hasData) {
        const d = data.endsWith('\n') ? data.slice(0, -1) : data;
        handlers.onEvent({ type: type === '' ? 'message' : type, data: d, id: lastId });
      }
      data = '';
      hasData = false;
      type = '';
      return;
    }
    if (l.startsWith(':')) {
      handlers.onComment?.(l.slice(1).trimStart());
      return;
    }
    const colon = l.indexOf(':');
    const field = colon === -1 ? l : l.slice(0, colon);
    let value = colon === -1 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        data += `${value}\n`;
        hasData = true;
        if (data.length > max) throw new RangeError('SSE event too large');
        break;
      case 'event':
        type = value;
        break;
      case 'id':
        if (!value.includes('\0')) lastId = value;
        break;
      default:
        // `retry` and unknown fields: ignored (the client has its own bounded backoff).
        break;
    }
  }

  return {
    push(text: string): void {
      let start = 0;
      const all = buffer + text;
      buffer = '';
      for (let i = 0; i < all.length; i++) {
        const c = all.charCodeAt(i);
        if (skipLf) {
          skipLf = false;
          if (c === 10) {
            start = i + 1;
            continue;
          }
        }
        if (c === 10 || c === 13) {
          line(all.slice(start, i));
          start = i + 1;
          if (c === 13) skipLf = true;
        }
      }
      buffer = all.slice(start);
      if (buffer.length > max) throw new RangeError('SSE line too long');
    },
  };
}
