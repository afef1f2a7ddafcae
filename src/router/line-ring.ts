/**
 * An app's latest access lines, kept column-wise between two sends: numbers in typed arrays, the
 * path and request id as bytes in one buffer, the few strings shared by many requests (method,
 * container, client) by reference. A line kept this way is no object of its own. Kept as tuples,
 * the lines of the last second (2 000 by default) survived the young-generation collections of
 * a busy router and made each of them copy ~14 000 objects: pauses of 2–6 ms instead of under 1.
 */
import type { AccessRecord } from './access.js';

/** Bytes of path and request id a line holds in place; longer ones are kept as strings (rare). */
const SLOT = 128;
const FIRST_CAPACITY = 16;

/**
 * A ring of lines that grows (doubling) up to the limit it is given with each line, then drops the
 * oldest. Paths and request ids are stored as latin1 bytes: Node's HTTP/1 and HTTP/2 parsers give
 * them as latin1 strings (one character per byte received), so nothing is lost.
 */
export class LineRing {
  private capacity = 0;
  /** Index of the oldest line. */
  private head = 0;
  private count = 0;
  private time = new Float64Array(0);
  private duration = new Float64Array(0);
  private bytes = new Float64Array(0);
  private status = new Uint16Array(0);
  private retries = new Uint32Array(0);
  private upgrade = new Uint8Array(0);
  private pathLength = new Uint8Array(0);
  private idLength = new Uint8Array(0);
  private text = Buffer.alloc(0);
  private method: string[] = [];
  private container: string[] = [];
  private client: string[] = [];
  /** Path and request id of lines whose bytes do not fit their slot, by index. */
  private long: ([string, string] | undefined)[] = [];

  constructor(private readonly app: string) {}

  get length(): number {
    return this.count;
  }

  /** Keeps the record's line (its app is the ring's), dropping the oldest beyond `limit`. */
  push(record: AccessRecord, limit: number): void {
    if (limit < 1) return;
    if (this.count === this.capacity && this.capacity < limit) this.grow(limit);
    let i: number;
    if (this.count < this.capacity && this.count < limit) {
      i = (this.head + this.count) % this.capacity;
      this.count++;
    } else {
      // Full for this limit: the newest line takes the oldest one's place.
      i = (this.head + this.count) % this.capacity;
      this.head = (this.head + 1) % this.capacity;
    }
    this.write(i, record);
  }

  /** The lines kept, oldest first, at most the last `limit`; the ring is empty after. */
  take(limit: number): AccessRecord[] {
    const n = Math.min(this.count, limit);
    const out: AccessRecord[] = new Array<AccessRecord>(n);
    for (let k = 0; k < n; k++) out[k] = this.read((this.head + this.count - n + k) % this.capacity);
    this.head = 0;
    this.count = 0;
    // A ring that grew for an app someone followed shrinks back once nobody does.
    if (this.capacity > 2 * limit) this.resize(Math.max(FIRST_CAPACITY, limit));
    else this.long.fill(undefined);
    return out;
  }

  private write(i: number, r: AccessRecord): void {
    this.time[i] = r[0];
    this.method[i] = r[2];
    this.status[i] = r[4];
    this.duration[i] = r[5];
    this.bytes[i] = r[6];
    this.container[i] = r[7];
    this.client[i] = r[9];
    this.retries[i] = r[10];
    this.upgrade[i] = r[11];
    const path = r[3];
    const id = r[8];
    if (path.length + id.length <= SLOT) {
      const at = i * SLOT;
      this.pathLength[i] = this.text.write(path, at, 'latin1');
      this.idLength[i] = this.text.write(id, at + path.length, 'latin1');
      this.long[i] = undefined;
    } else {
      this.long[i] = [path, id];
    }
  }

  private read(i: number): AccessRecord {
    const long = this.long[i];
    const at = i * SLOT;
    const path = long?.[0] ?? this.text.toString('latin1', at, at + this.pathLength[i]!);
    const id = long?.[1] ?? this.text.toString('latin1', at + this.pathLength[i]!, at + this.pathLength[i]! + this.idLength[i]!);
    return [
      this.time[i]!,
      this.app,
      this.method[i]!,
      path,
      this.status[i]!,
      this.duration[i]!,
      this.bytes[i]!,
      this.container[i]!,
      id,
      this.client[i]!,
      this.retries[i]!,
      this.upgrade[i] === 1 ? 1 : 0,
    ];
  }

  private grow(limit: number): void {
    this.resize(Math.min(limit, Math.max(FIRST_CAPACITY, this.capacity * 2)));
  }

  /** Moves the lines (oldest first, to index 0) into columns of `capacity` lines. */
  private resize(capacity: number): void {
    const lines = Array.from({ length: this.count }, (_, k) => this.read((this.head + k) % this.capacity));
    this.capacity = capacity;
    this.time = new Float64Array(capacity);
    this.duration = new Float64Array(capacity);
    this.bytes = new Float64Array(capacity);
    this.status = new Uint16Array(capacity);
    this.retries = new Uint32Array(capacity);
    this.upgrade = new Uint8Array(capacity);
    this.pathLength = new Uint8Array(capacity);
    this.idLength = new Uint8Array(capacity);
    this.text = Buffer.allocUnsafeSlow(capacity * SLOT);
    this.method = new Array<string>(capacity).fill('');
    this.container = new Array<string>(capacity).fill('');
    this.client = new Array<string>(capacity).fill('');
    this.long = new Array<[string, string] | undefined>(capacity).fill(undefined);
    this.head = 0;
    this.count = lines.length;
    lines.forEach((line, k) => this.write(k, line));
  }
}
