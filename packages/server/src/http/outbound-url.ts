/**
 * A URL Writ itself sends requests to (an upstream's base URL, an MCP server, a Shared Signals push endpoint): http
 * or https, and never with `user:password@` in it — credentials belong in the vault, where they are injected per
 * request and never shown, while a URL is listed back to every operator in clear.
 */
import { z } from 'zod';

export const outboundUrl = z
  .url({ protocol: /^https?$/ })
  .max(2000)
  .refine((u) => {
    // zod runs this even when the URL check above failed: such input is already refused, and must not throw here.
    if (!URL.canParse(u)) return true;
    const url = new URL(u);
    return url.username === '' && url.password === '' && url.hash === '';
  }, 'an http(s) URL without credentials (user:password@: put them in the vault) or fragment');
