/** RFC 6749 §5.1/§5.2 bodies are JSON objects; anything else (an HTML error page, an empty body) reads as `undefined`. */
export async function readJsonObject(res: Response): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await res.text();
  } catch {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
