/**
 * Browser tests run Debian's Chromium through playwright-core (never a browser download); where it is not installed
 * they are skipped, and say so loudly.
 */
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** The `skip` option of a browser test: false, or why it cannot run here. */
export function chromiumSkip(): false | string {
  const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed (apt-get install -y chromium): the browser tests are SKIPPED`;
  if (skip !== false) console.error(`!! ${skip}`);
  return skip;
}

/** Tab until the focused element satisfies `is` (at most 40 presses): the keyboard is the only way it moves. */
export async function tabTo(page: Page, is: string, what: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    // A string, evaluated in the page (the test project has no DOM types).
    if ((await page.evaluate(`document.activeElement?.matches(${JSON.stringify(is)}) === true`)) === true) return;
  }
  throw new Error(`Tab never reached ${what}`);
}
