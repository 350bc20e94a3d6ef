/** Writ's version, as its package says (a test keeps the two equal): in `--version`, OCSF `metadata.product`, logs. */
export const WRIT_VERSION = '0.1.0';
