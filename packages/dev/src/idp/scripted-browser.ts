/**
 * Just enough of a browser for `loginAs`: a cookie jar and redirects followed by hand (`redirect: 'manual'`), so the
 * walk can stop at the client's redirect URI — which nobody serves — and hand its URL (with `code` and `state`) to
 * openid-client. oidc-provider ties the interaction to its cookies, so they must travel like a browser's would.
 *
 * The jar ignores Domain and Path: it only ever talks to the one dev provider origin.
 */

export interface Page {
  url: string;
  status: number;
  body: string;
}

const MAX_REDIRECTS = 10;

export class ScriptedBrowser {
  readonly #cookies = new Map<string, string>();
  readonly #stopAt: URL;

  /** `stopAt`: the redirect URI; a redirect to it ends the walk without being fetched. */
  constructor(stopAt: string) {
    this.#stopAt = new URL(stopAt);
  }

  /** True when `url` is the redirect URI (query aside). */
  isStop(url: string): boolean {
    const u = new URL(url);
    return u.origin === this.#stopAt.origin && u.pathname === this.#stopAt.pathname;
  }

  /** `through`: fetch `url` even when it is the stop URL (to deliver a redirect the walk stopped at, with this jar). */
  get(url: string, o: { through?: boolean } = {}): Promise<Page> {
    return this.#walk(url, undefined, o.through === true);
  }

  submit(url: string, form: Record<string, string>): Promise<Page> {
    return this.#walk(url, new URLSearchParams(form).toString());
  }

  /** A form whose fields may repeat (checkboxes). */
  submitForm(url: string, form: URLSearchParams): Promise<Page> {
    return this.#walk(url, form.toString());
  }

  /** Fetches `url` and follows redirects (as GETs, like a browser after a 303) until a page or the redirect URI. */
  async #walk(url: string, formBody: string | undefined, through = false): Promise<Page> {
    let current = url;
    let body = formBody;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (this.isStop(current) && !(through && hop === 0)) return { url: current, status: 0, body: '' };
      const res = await fetch(current, {
        redirect: 'manual',
        ...(body === undefined
          ? { method: 'GET', headers: this.#cookieHeader() }
          : { method: 'POST', headers: { ...this.#cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' }, body }),
      });
      body = undefined;
      this.#store(res);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        await res.body?.cancel();
        current = new URL(location, current).toString();
        continue;
      }
      return { url: current, status: res.status, body: await res.text() };
    }
    throw new Error('too many redirects');
  }

  #cookieHeader(): Record<string, string> {
    return this.#cookies.size === 0 ? {} : { cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  #store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      // How servers delete a cookie: an empty value, an expiry in the past or Max-Age 0.
      const expired = attributes.some((a) => {
        const [k = '', v = ''] = a.split('=').map((s) => s.trim());
        return (k.toLowerCase() === 'max-age' && Number(v) <= 0) || (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now());
      });
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
}
