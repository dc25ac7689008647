import type { Pacer } from "../core/pacer.ts";

const ENCODER = new TextEncoder();

/**
 * JSON text of a large object or array, built a slice at a time: one `JSON.stringify` of 200k
 * entries would hold the socket loop for the whole of it. Entries are produced lazily, and each
 * slice's text is encoded as it ends, so no step (not even handing the body to Bun) flattens
 * megabytes of text at once.
 */
class PacedText {
  private readonly chunks: Uint8Array[] = [];
  private text = "";

  constructor(private readonly pacer: Pacer) {}

  write(text: string): void {
    this.text += text;
  }

  /** True when the slice is spent and `pause()` is due. */
  due(): boolean {
    return this.pacer.due();
  }

  async pause(): Promise<void> {
    this.cut();
    await this.pacer.pause();
  }

  body(): Blob {
    this.cut();
    return new Blob(this.chunks);
  }

  private cut(): void {
    if (this.text === "") return;
    this.chunks.push(ENCODER.encode(this.text));
    this.text = "";
  }
}

/** `{"key":value,...}`, with `prefix` and `suffix` around it (`{"channels":` … `}`). */
export async function pacedObject(prefix: string, entries: Iterable<readonly [string, unknown]>, suffix: string, pacer: Pacer): Promise<Blob> {
  const out = new PacedText(pacer);
  out.write(`${prefix}{`);
  let first = true;
  for (const [key, value] of entries) {
    out.write(`${first ? "" : ","}${JSON.stringify(key)}:${JSON.stringify(value)}`);
    first = false;
    if (out.due()) await out.pause();
  }
  out.write(`}${suffix}`);
  return out.body();
}

/** `[item,...]`, with `prefix` and `suffix` around it. */
export async function pacedArray(prefix: string, items: Iterable<unknown>, suffix: string, pacer: Pacer): Promise<Blob> {
  const out = new PacedText(pacer);
  out.write(`${prefix}[`);
  let first = true;
  for (const item of items) {
    out.write(`${first ? "" : ","}${JSON.stringify(item)}`);
    first = false;
    if (out.due()) await out.pause();
  }
  out.write(`]${suffix}`);
  return out.body();
}
